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
