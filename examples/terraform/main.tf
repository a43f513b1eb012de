# Renders cloud-init user-data for new nodes with Terraform built-ins only (no provider download).
#
# user-data.yaml.tftpl was rendered from ../registries.yaml by:
#   regtrust render --spec examples/registries.yaml --target cloud-init --runtime containerd \
#     --escape terraform --template-var registry_host=my.private.registry:5000 \
#     --out examples/terraform/user-data.yaml.tftpl
# `--runtime containerd`: these are Kubernetes nodes. Without it the user-data also carries the
# part for Docker Engine and Podman, applied where the node has them, and grows past EC2's
# 16 KB limit (the hosts in it stay text, for the template variable).
# Literal `${` and `%{` in it are escaped, and the HTTP registry's host is a template variable,
# so one template serves every environment.

terraform {
  required_version = ">= 1.0"
}

variable "registry_host" {
  description = "The plain-HTTP registry, host[:port] as written in image references"
  type        = string
  default     = "my.private.registry:5000"
}

locals {
  user_data = templatefile("${path.module}/user-data.yaml.tftpl", {
    registry_host = var.registry_host
  })
}

# Pass to an instance as user_data, or user_data_base64 where gzip is accepted (EC2: 16 KB limit).
output "user_data" {
  value = local.user_data
}

output "user_data_base64gzip" {
  value = base64gzip(local.user_data)
}
