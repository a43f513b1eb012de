# An Ansible callback plugin for tests/real/ansible.rs: records every task result (host, task,
# status, the module's returned values) and the play stats as one JSON file, named by
# $REGTRUST_ANSIBLE_RECORD, at the end of the playbook. ansible-core 2.14 ships no json stdout
# callback (that one is in community.general), so the test brings this one.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: ansible_record
type: aggregate
short_description: record task results as JSON for regtrust's tests
description: Writes every task result and the stats to the file named by REGTRUST_ANSIBLE_RECORD.
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ansible_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.results = []

    def _record(self, result, status):
        self.results.append({
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "status": status,
            "result": result._result,
        })

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        summary = {h: stats.summarize(h) for h in sorted(stats.processed.keys())}
        with open(os.environ["REGTRUST_ANSIBLE_RECORD"], "w") as f:
            json.dump({"results": self.results, "stats": summary}, f, default=str, indent=1)
