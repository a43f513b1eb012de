//! The contract of the boot-time config.toml edit (`../shared/contracts.md`, "Outputs that run at
//! boot") with this machine's sh and awk, on a PATH without python3: over the hand-written shapes
//! in tests/config-corpus, a missing file, the doctor corpus, the configs projects ship
//! (tests/project-configs) and the fuzz seeds, the script
//! either writes byte for byte the file `apply` writes, or refuses with the file unchanged. The
//! real suite adds the configs real containerd ships, the fuzz corpus CI's fuzz step grows, and
//! other awks.
use crate::support::boot_patch::*;

#[test]
fn boot_patch_is_byte_equal_to_apply_or_refuses_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = bare_path(dir.path(), "/usr/bin/awk");
    let seeds = hand_seeds();
    // One thread per containerd version, each in its own directory (the time is spent waiting
    // for sh and awk).
    let refused: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = VERSIONS
            .iter()
            .map(|&version| {
                let (path, seeds) = (&path, &seeds);
                let dir = dir.path().join(format!("v{version}"));
                std::fs::create_dir_all(&dir).unwrap();
                s.spawn(move || {
                    let dir = dir.as_path();
                    let mut refused = Vec::new();
                    for (name, seed) in seeds {
                        let out = check(dir, name, version, Some(seed), path);
                        if name.starts_with("hostile-") {
                            assert!(
                                !out.accepted,
                                "{name} on {version}: a hostile shape was edited"
                            );
                        }
                        if !out.accepted {
                            refused.push(format!("{name}@{version}"));
                        }
                        if must_accept(name, version) {
                            assert!(out.accepted, "{name} on {version} was refused");
                        }
                    }
                    assert!(check(dir, "missing", version, None, path).accepted);
                    refused
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for (name, seed) in doctor_seeds() {
        for version in ["1.6", "1.7", "2.1", "2.3"] {
            check(dir.path(), &name, version, Some(&seed), &path);
        }
    }
    // The configs projects ship, on every containerd line (like the hand-written shapes).
    let mut project_refused = Vec::new();
    for (name, seed) in project_seeds() {
        for version in VERSIONS {
            if !check(dir.path(), &name, version, Some(&seed), &path).accepted {
                project_refused.push(format!("{name}@{version}"));
            }
        }
    }
    eprintln!("refused: {}", refused.join(" "));
    eprintln!("project configs refused: {}", project_refused.join(" "));
}

/// The config patch fuzz target's minimised seeds (fuzz/seeds/config_patch).
#[test]
fn boot_patch_contract_holds_on_the_fuzz_seeds() {
    let (accepted, total) = check_fuzz_inputs(&fuzz_seeds());
    eprintln!("fuzz seeds: {accepted} of {total} edited, the rest refused unchanged");
}

/// With credentials for config.toml (`method: config`): over the hand-written shapes and the
/// configs projects ship, on every
/// containerd line, the script appends the credentials blocks exactly as `apply` does (a
/// password that needs TOML escapes, an identity token without a username) or refuses
/// unchanged; run again on its own result it changes nothing; run without credentials it takes
/// them off again, as `apply` does. The shapes it refuses are those it refuses without
/// credentials.
#[test]
fn boot_patch_with_credentials_is_byte_equal_to_apply_or_refuses_unchanged() {
    use regtrust::plan::ConfigCredential;
    use regtrust::secret::Secret;
    use regtrust::spec::SecretKind;
    let dir = tempfile::tempdir().unwrap();
    let path = bare_path(dir.path(), "/usr/bin/awk");
    let creds = vec![
        ConfigCredential {
            host: "reg.example:5000".into(),
            url: "https://reg.example:5000".into(),
            username: "robot$ci".into(),
            kind: SecretKind::Password,
            secret: Secret::new("pw with \"quotes\" and \\ and 'single'".into()),
        },
        ConfigCredential {
            host: "mirror.example".into(),
            url: "http://mirror.example".into(),
            username: String::new(),
            kind: SecretKind::IdentityToken,
            secret: Secret::new("idt-contract-1".into()),
        },
    ];
    let mut seeds = hand_seeds();
    seeds.extend(project_seeds());
    // One thread per containerd version, each in its own directory.
    let counts: Vec<(usize, usize)> = std::thread::scope(|s| {
        let workers: Vec<_> = VERSIONS
            .iter()
            .map(|&version| {
                let (path, seeds, creds) = (&path, &seeds, &creds);
                let d = dir.path().join(format!("v{version}"));
                std::fs::create_dir_all(&d).unwrap();
                s.spawn(move || {
                    let d = d.as_path();
                    let (mut accepted, mut total) = (0, 0);
                    for (name, seed) in seeds {
                        total += 1;
                        let plain = check(d, &format!("{name}-p"), version, Some(seed), path);
                        let first =
                            check_with(d, &format!("{name}-c"), version, Some(seed), path, creds);
                        // Credentials never make the script refuse a shape it edits without them.
                        assert_eq!(first.accepted, plain.accepted, "{name} on {version}");
                        let Some(text) = first.text else { continue };
                        accepted += 1;
                        let again = check_with(
                            d,
                            &format!("{name}-c2"),
                            version,
                            Some(text.as_bytes()),
                            path,
                            creds,
                        );
                        assert_eq!(
                            again.text.as_deref(),
                            Some(text.as_str()),
                            "{name} on {version}: re-run"
                        );
                        let off = check(
                            d,
                            &format!("{name}-c0"),
                            version,
                            Some(text.as_bytes()),
                            path,
                        );
                        assert!(
                            off.accepted,
                            "{name} on {version}: taking the credentials off was refused"
                        );
                        assert!(
                            !off.text.unwrap().contains("# regtrust: credentials"),
                            "{name}"
                        );
                    }
                    assert!(check_with(d, "missing-c", version, None, path, creds).accepted);
                    (accepted, total)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let accepted: usize = counts.iter().map(|c| c.0).sum();
    let total: usize = counts.iter().map(|c| c.1).sum();
    eprintln!("with credentials: {accepted} of {total} edited, the rest refused unchanged");
}
