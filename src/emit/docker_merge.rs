//! Docker Engine's daemon.json merge for the boot outputs (cloud-init `runcmd`, the installer):
//! a Python 3 script (`templates/docker-merge.py.j2`) that edits `/etc/docker/daemon.json` on
//! the node as `docker::daemon_json` does for `apply` (the same bytes from the same file: see
//! `tests/fast/docker_boot.rs`), and keeps regtrust's record (`docker::managed`) the same way,
//! so `apply` and the boot outputs can follow one another. dockerd's certs.d files are plain
//! planned files, written by the output itself before the merge runs.
use serde::Serialize;

use crate::plan::DockerPlan;

/// Where cloud-init writes the merge script on the node.
pub const SCRIPT_PATH: &str = "/usr/local/sbin/regtrust-docker-config";

/// The deepest nesting of a daemon.json value the script edits: Python's JSON reader recurses
/// (about 1,000 levels), `apply`'s reader does not; deeper files are left to `apply` (refused,
/// unchanged).
const MAX_DEPTH: usize = 500;

/// What the script is told: the entries the spec wants and the certs.d files the output writes.
#[derive(Serialize)]
struct Wanted<'a> {
    #[serde(rename = "insecure-registries")]
    insecure_registries: &'a [String],
    #[serde(rename = "registry-mirrors")]
    registry_mirrors: &'a [String],
    #[serde(rename = "certs.d")]
    certs_d: Vec<&'a str>,
}

/// One line saying what the merge does.
pub fn summary(plan: &DockerPlan) -> String {
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    format!(
        "{}, {}, {} under /etc/docker/certs.d",
        n(
            plan.insecure_registries.len(),
            "insecure registry",
            "insecure registries"
        ),
        n(
            plan.registry_mirrors.len(),
            "docker.io mirror",
            "docker.io mirrors"
        ),
        n(plan.files.len(), "file", "files"),
    )
}

/// The merge script (Python 3). The plan enters it as JSON text, which is also a Python literal
/// of the same value (objects with string keys and lists of strings only).
pub fn render(plan: &DockerPlan) -> String {
    let wanted = Wanted {
        insecure_registries: &plan.insecure_registries,
        registry_mirrors: &plan.registry_mirrors,
        certs_d: plan.files.iter().map(|f| f.path.as_str()).collect(),
    };
    let mut script = crate::templates::render(
        "docker-merge.py",
        minijinja::context! {
            summary => summary(plan),
            plan => json(&wanted),
            record_comment => json(crate::docker::managed::COMMENT),
            dockerd => json(&crate::docker::DOCKERD),
            max_depth => MAX_DEPTH,
        },
    );
    script.push('\n');
    script
}

/// The installer's part: runs the same script with the installer's python3 (its presence is
/// checked before the installer writes anything), under the installer's lock.
pub fn installer_part(plan: &DockerPlan) -> String {
    crate::templates::render(
        "docker-merge.sh",
        minijinja::context! {
            script => render(plan).trim_end(),
            summary => summary(plan),
        },
    )
}

fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("plain data serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heredoc_delimiter_is_no_line_of_the_script() {
        let plan = DockerPlan {
            insecure_registries: vec!["a:5000".into()],
            ..DockerPlan::default()
        };
        let script = render(&plan);
        assert!(!script.lines().any(|l| l == "REGTRUST_DOCKER_MERGE"));
        assert!(script.contains("\"a:5000\""), "{script}");
        assert!(installer_part(&plan).contains("<<'REGTRUST_DOCKER_MERGE'"));
    }
}
