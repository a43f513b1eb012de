//! `--target script`: one self-contained POSIX sh installer (for Packer provisioners, image
//! builds, or any node without the regtrust binary). Every value enters the script through
//! [`crate::templates::shell_quote`].
use crate::containerd::layout::DEFAULT_CONFIG_FILE;
use crate::containerd::{ConfigLayout, Version};
use crate::plan::{Plan, PlannedFile};

pub fn render(plan: &Plan, containerd: Version) -> String {
    let files: Vec<_> = plan.files.iter().map(PlannedFile::view).collect();
    let planned: Vec<&str> = plan.files.iter().map(|f| f.path.as_str()).collect();
    let n = plan.hosts.len();
    let summary = format!(
        "{n} registr{} under {}",
        if n == 1 { "y" } else { "ies" },
        plan.config_path
    );
    let mut script = crate::templates::render(
        "installer.sh",
        minijinja::context! {
            version => containerd.to_string(),
            summary,
            config_file => DEFAULT_CONFIG_FILE,
            config_path => plan.config_path.as_str(),
            new_file_version => ConfigLayout::native_for(&containerd).number(),
            files,
            planned => planned.join("\n"),
        },
    );
    script.push('\n');
    script
}
