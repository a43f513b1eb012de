# Bakes registry trust into an image root with regtrust (tested in CI with Debian's Packer 1.6.6).
#
# regtrust renders a self-contained installer on the build host; the installer writes the
# certs.d tree and sets config_path in <image_root>/etc/containerd/config.toml. Use it for
# chroot-style builds (an image mounted on the build host). For builds on a VM over SSH, see
# node-image.pkr.hcl.example (file + shell provisioners).
#
#   packer build -var spec=registries.yaml [-var containerd_version=1.7] \
#     -var image_root=/mnt/image packer/regtrust.pkr.hcl
#
# A spec with credentials (`auth`): the installer holds no password; it reads each one from the
# environment of this build (shell-local passes it on), e.g. `REGISTRY_PW=… packer build …` for
# `password_env: REGISTRY_PW`, and fails, writing nothing, without it. The image then contains
# the credentials (hosts.toml, root-owned 0600).

variable "spec" {
  type        = string
  description = "The registry spec (YAML or JSON)"
}

variable "containerd_version" {
  type        = string
  default     = ""
  description = "containerd version in the image: 1.6, 1.7, 2.0, 2.1, 2.2 or 2.3; empty (the default): the spec's containerd.version, else what the installer finds in the image when it runs"
}

variable "image_root" {
  type        = string
  description = "The mounted image root to install into"
}

variable "regtrust" {
  type        = string
  default     = "regtrust"
  description = "The regtrust binary on the build host"
}

variable "work_dir" {
  type        = string
  default     = "."
  description = "Where the rendered installer is kept on the build host"
}

source "null" "image_root" {
  communicator = "none"
}

build {
  sources = ["source.null.image_root"]

  # Render on the build host: a bad spec fails the build here, before anything is installed.
  provisioner "shell-local" {
    inline = [
      "set -eu",
      "'${var.regtrust}' render --spec '${var.spec}' --target script ${var.containerd_version == "" ? "" : "--containerd '${var.containerd_version}'"} --out '${var.work_dir}/regtrust-install.sh'",
    ]
  }

  # Install into the image root (idempotent; no containerd restart in an image).
  provisioner "shell-local" {
    inline = [
      "set -eu",
      "sh '${var.work_dir}/regtrust-install.sh' --root '${var.image_root}'",
    ]
  }
}
