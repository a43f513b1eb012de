#!/usr/bin/python3
"""Reads cloud-init user-data the way cloud-init does (PyYAML safe_load; MIME via the email
package) and prints what it would write: JSON {"files": [{path, owner, permissions, content}],
"runcmd": [...], "merge_how": ...}. gz+b64 contents are decoded.

usage: userdata_files.py FILE
"""
import base64
import email
import gzip
import json
import sys

import yaml


def cloud_config_text(raw):
    if raw.startswith("Content-Type: multipart/"):
        msg = email.message_from_string(raw)
        parts = [p for p in msg.walk() if p.get_content_type() == "text/cloud-config"]
        assert len(parts) == 1, "expected one text/cloud-config part"
        return parts[0].get_payload(decode=True).decode("utf-8")
    return raw


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = cloud_config_text(f.read())
    assert text.startswith("#cloud-config\n"), "missing #cloud-config header"
    doc = yaml.safe_load(text)
    files = []
    for wf in doc.get("write_files", []):
        content = wf.get("content", "")
        if wf.get("encoding") == "gz+b64":
            content = gzip.decompress(base64.b64decode(content)).decode("utf-8")
        perms = wf.get("permissions")
        assert isinstance(perms, str), "permissions must be a string, got %r" % (perms,)
        files.append({"path": wf["path"], "owner": wf.get("owner"), "permissions": perms, "content": content})
    print(json.dumps({"files": files, "runcmd": doc.get("runcmd", []), "merge_how": doc.get("merge_how")}))


if __name__ == "__main__":
    main()
