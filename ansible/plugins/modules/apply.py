#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: regtrust contributors
# SPDX-License-Identifier: MIT OR Apache-2.0
"""regtrust.node.apply: bring a node's containerd registry trust in line with a regtrust spec."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: apply
short_description: Make containerd trust private registries from a regtrust spec
version_added: "1.0.0"
description:
  - Runs C(regtrust apply) on the node (or on an image root with I(root)) so that containerd
    trusts the registries of a regtrust spec, writing C(certs.d/<host>/hosts.toml) files and
    C(config_path) in containerd's C(config.toml).
  - Everything is computed first and written as one transaction; a second run reports no change.
  - Needs the C(regtrust) binary on the node (see the C(regtrust.node.install) role).
options:
  spec:
    description:
      - Path of the spec (YAML or JSON) on the node. Relative C(password_file) and C(ca) paths are
        relative to its directory.
      - Exactly one of I(spec) and I(spec_content) is required.
    type: path
  spec_content:
    description:
      - The spec's text, for example C(lookup('ansible.builtin.file', 'registries.yaml')). It is
        written to a temporary file readable only by the user running the module, and removed
        afterwards; it is never logged.
      - A spec given here should use absolute paths for C(password_file) and C(ca) files.
    type: raw
  root:
    description:
      - The node's root directory; another value is an image being built or a host's C(/)
        mounted elsewhere. Nothing outside it is written.
    type: path
    default: /
  config:
    description: containerd's config.toml, as a path on the node (inside I(root)).
    type: str
  containerd:
    description:
      - containerd version of the node (1.6, 1.7, 2.0, 2.1, 2.2, 2.3, a patch level may follow).
      - Default is the spec's C(containerd.version), else what is installed under I(root), else
        config.toml's C(version).
    type: str
  runtimes:
    description:
      - The container runtimes to configure, as C(regtrust apply --runtime) takes them
        (C(containerd), C(docker) for Docker Engine's C(daemon.json) and C(certs.d), C(podman)
        or C(cri-o) for the containers-image files of Podman, CRI-O, Buildah and Skopeo). A
        runtime that regtrust does not know fails the task with regtrust's message.
      - Default is the spec's C(runtimes), else what is installed under I(root).
    type: list
    elements: str
  regtrust_path:
    description: The regtrust binary on the node, a path or a name looked up on C(PATH).
    type: str
    default: regtrust
notes:
  - Check mode runs C(regtrust apply --dry-run) and writes nothing; diff mode returns the same diff
    as C(--dry-run), with credentials and private keys redacted.
  - A spec error fails the task with regtrust's diagnostic, which names the line and column.
author:
  - regtrust contributors
"""

EXAMPLES = r"""
- name: Trust the private registries
  regtrust.node.apply:
    spec_content: "{{ lookup('ansible.builtin.file', 'registries.yaml') }}"
  register: regtrust
  notify: Restart containerd

- name: Bake an image root
  regtrust.node.apply:
    spec: /srv/image-build/registries.yaml
    root: /mnt/image
    containerd: "1.7"
"""

RETURN = r"""
changed:
  description: Whether any file changed (or, in check mode, would change).
  returned: always
  type: bool
files_changed:
  description: The node paths (inside I(root)) written or removed, or that would be.
  returned: always
  type: list
  elements: str
  sample: ["/etc/containerd/certs.d/my.private.registry:5000/hosts.toml", "/etc/containerd/config.toml"]
changes:
  description: Each change with its action (create, update, remove).
  returned: always
  type: list
  elements: dict
restart:
  description: C(containerd must restart) when config.toml (or a drop-in it imports) changed, or
    when the containerd answering on the root's socket started before config.toml last changed;
    else C(none).
  returned: always
  type: str
restart_required:
  description: The same as a boolean, for a handler's C(when).
  returned: always
  type: bool
reload_docker:
  description: Whether dockerd must reload C(daemon.json) (C(systemctl reload docker)).
  returned: always
  type: bool
reload_crio:
  description: Whether a running CRI-O must reload its registries configuration
    (C(systemctl reload crio)); Podman, Buildah and Skopeo read it on every run.
  returned: always
  type: bool
runtimes:
  description: The runtimes regtrust configured.
  returned: always
  type: list
  elements: str
containerd:
  description: The containerd version regtrust wrote for.
  returned: success
  type: str
notes:
  description: regtrust's notes and warnings (the warnings are also task warnings).
  returned: always
  type: list
  elements: str
line:
  description: The spec error's line, when the spec is invalid.
  returned: failure
  type: int
column:
  description: The spec error's column, when the spec is invalid.
  returned: failure
  type: int
"""

import json
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes

POSITION = re.compile(r"-->\s*(?P<file>.*?):(?P<line>\d+):(?P<column>\d+)")


def find_binary(module, name):
    hint = ""
    if module.check_mode:
        hint = (" (check mode runs regtrust to know what would change; the install role in "
                "check mode only reports that it would copy it)")
    if "/" in name:
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        module.fail_json(msg="regtrust_path: %s is not an executable file%s" % (name, hint))
    path = module.get_bin_path(name)
    if path is None:
        module.fail_json(
            msg="regtrust_path: %s not found on PATH; install it (regtrust.node.install) "
            "or give its path%s" % (name, hint)
        )
    return path


def spec_error(module, rc, stderr, shown_as):
    first = next((ln for ln in stderr.splitlines() if ln.strip()), "regtrust failed")
    pos = POSITION.search(stderr)
    result = dict(rc=rc, stderr=stderr, changed=False)
    if pos:
        result["line"] = int(pos.group("line"))
        result["column"] = int(pos.group("column"))
        msg = "invalid spec %s at line %d, column %d:\n%s" % (
            shown_as, result["line"], result["column"], stderr)
    else:
        msg = "invalid spec or arguments: %s\n%s" % (first, stderr)
    module.fail_json(msg=msg, **result)


def run(module, binary, spec_path, shown_as, mode):
    p = module.params
    cmd = [binary, "apply", "--spec", spec_path, "--root", p["root"], "--format", "json"]
    if p["containerd"]:
        cmd += ["--containerd", p["containerd"]]
    if p["config"]:
        cmd += ["--config", p["config"]]
    if p["runtimes"]:
        cmd += ["--runtime", ",".join(p["runtimes"])]
    if mode:
        cmd.append(mode)
    rc, out, err = module.run_command(cmd)
    if spec_path != shown_as:
        err = err.replace(spec_path, shown_as)
    if rc == 2:
        spec_error(module, rc, err, shown_as)
    if rc == 3:
        module.fail_json(msg="regtrust could not read or write the node: %s" % err.strip(),
                         rc=rc, stderr=err, changed=False)
    if rc not in (0, 1):
        module.fail_json(msg="regtrust apply failed (exit %d): %s" % (rc, err.strip()),
                         rc=rc, stderr=err, changed=False)
    try:
        return json.loads(out)
    except ValueError as e:
        module.fail_json(msg="regtrust printed no JSON (%s); is it older than apply --format "
                         "json?" % e, rc=rc, stdout=out, stderr=err, changed=False)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            spec=dict(type="path"),
            spec_content=dict(type="raw", no_log=True),
            root=dict(type="path", default="/"),
            config=dict(type="str"),
            containerd=dict(type="str"),
            runtimes=dict(type="list", elements="str"),
            regtrust_path=dict(type="str", default="regtrust"),
        ),
        mutually_exclusive=[("spec", "spec_content")],
        required_one_of=[("spec", "spec_content")],
        supports_check_mode=True,
    )
    p = module.params
    if p["runtimes"] is not None and not p["runtimes"]:
        module.fail_json(msg="runtimes: an empty list; leave it out to configure the spec's "
                         "runtimes (else what is installed under root)")
    binary = find_binary(module, p["regtrust_path"])

    tmp = None
    try:
        if p["spec_content"] is not None:
            content = p["spec_content"]
            if not isinstance(content, str):
                # Ansible turns a templated JSON text into a dict; regtrust reads JSON too.
                content = json.dumps(content)
            fd, tmp = tempfile.mkstemp(prefix="regtrust-spec-", suffix=".yaml",
                                       dir=module.tmpdir)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(to_bytes(content.rstrip("\n") + "\n"))
            spec_path, shown_as = tmp, "spec_content"
        else:
            spec_path = shown_as = p["spec"]

        if module.check_mode:
            data = run(module, binary, spec_path, shown_as, "--dry-run")
            diff = data.get("diff", "")
        else:
            diff = None
            if module._diff:
                diff = run(module, binary, spec_path, shown_as, "--dry-run").get("diff", "")
            data = run(module, binary, spec_path, shown_as, None)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)

    notes = data.get("notes", [])
    for n in notes:
        if n.startswith("warning: "):
            module.warn("regtrust: " + n[len("warning: "):])
    result = dict(
        changed=bool(data["changed"]),
        files_changed=data["files_changed"],
        changes=data.get("changes", []),
        restart=data["restart"],
        restart_required=data["restart"] != "none",
        reload_docker=bool(data.get("reload_docker", False)),
        reload_crio=bool(data.get("reload_crio", False)),
        runtimes=data.get("runtimes", []),
        containerd=data.get("containerd"),
        notes=notes,
    )
    if module._diff and diff:
        result["diff"] = dict(prepared=diff)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
