"""A ``jira:issue_created`` webhook body written by hand after Atlassian's published samples.

Independent of processor.devtools.simulate.jira_webhooks, so the gateway's mapping is tested against a
second reading of what Jira sends, including the things real bodies carry that the mapping must
ignore (custom fields, avatar URLs, watches, nulls) and Jira's ``+0000`` offsets.
"""

from __future__ import annotations

import copy
import json
from typing import Any

_SAMPLE: dict[str, Any] = {
    "timestamp": 1_764_000_000_123,
    "webhookEvent": "jira:issue_created",
    "issue_event_type_name": "issue_created",
    "user": {
        "self": "https://issues.example.org/jira/rest/api/2/user?username=jdoe",
        "name": "jdoe",
        "key": "jdoe",
        "emailAddress": "jdoe@example.org",
        "avatarUrls": {"48x48": "https://issues.example.org/jira/secure/useravatar?avatarId=10122"},
        "displayName": "Jane Doe",
        "active": True,
        "timeZone": "Europe/Berlin",
    },
    "issue": {
        "id": "13401234",
        "self": "https://issues.example.org/jira/rest/api/2/issue/13401234",
        "key": "HDFS-16420",
        "fields": {
            "issuetype": {
                "self": "https://issues.example.org/jira/rest/api/2/issuetype/1",
                "id": "1",
                "description": "A problem which impairs or prevents the functions of the product.",
                "iconUrl": "https://issues.example.org/jira/secure/viewavatar?size=xsmall&avatarId=21133",
                "name": "Bug",
                "subtask": False,
                "avatarId": 21133,
            },
            "timespent": None,
            "project": {
                "self": "https://issues.example.org/jira/rest/api/2/project/12310942",
                "id": "12310942",
                "key": "HDFS",
                "name": "Hadoop HDFS",
                "projectTypeKey": "software",
            },
            "fixVersions": [],
            "aggregatetimespent": None,
            "resolution": None,
            "customfield_12312322": None,
            "resolutiondate": None,
            "workratio": -1,
            "watches": {
                "self": "https://issues.example.org/jira/rest/api/2/issue/HDFS-16420/watchers",
                "watchCount": 1,
            },
            "created": "2025-11-24T16:00:00.123+0000",
            "priority": {
                "self": "https://issues.example.org/jira/rest/api/2/priority/3",
                "iconUrl": "https://issues.example.org/jira/images/icons/priorities/major.svg",
                "name": "Major",
                "id": "3",
            },
            "labels": ["pull-request-available"],
            "versions": [
                {
                    "self": "https://issues.example.org/jira/rest/api/2/version/12350088",
                    "id": "12350088",
                    "name": "3.3.1",
                    "archived": False,
                    "released": True,
                    "releaseDate": "2021-06-15",
                }
            ],
            "assignee": None,
            "updated": "2025-11-24T16:00:00.123+0000",
            "status": {
                "self": "https://issues.example.org/jira/rest/api/2/status/1",
                "description": "The issue is open and ready for the assignee to start work on it.",
                "name": "Open",
                "id": "1",
                "statusCategory": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
            },
            "components": [
                {
                    "self": "https://issues.example.org/jira/rest/api/2/component/12312927",
                    "id": "12312927",
                    "name": "namenode",
                }
            ],
            "description": (
                "When the standby NameNode replays a large edit log segment after failover, "
                "{{FSEditLogLoader}} throws a NullPointerException and the NN exits.\n\n"
                "{code}\njava.lang.NullPointerException\n\tat org.apache.hadoop.hdfs.server.namenode."
                "FSEditLogLoader.applyEditLogOp(FSEditLogLoader.java:467)\n{code}"
            ),
            "summary": "Standby NameNode crashes with NPE while replaying edit log after failover",
            "creator": {"name": "jdoe", "key": "jdoe", "displayName": "Jane Doe"},
            "reporter": {"name": "jdoe", "key": "jdoe", "displayName": "Jane Doe", "active": True},
            "environment": None,
            "duedate": None,
        },
    },
}


def issue_created(
    *, issue_id: str | None = None, key: str | None = None, timestamp: int | None = None, **fields: Any
) -> dict[str, Any]:
    """The sample, with the issue id, key, webhook timestamp or ``fields`` entries replaced."""
    body = copy.deepcopy(_SAMPLE)
    if issue_id is not None:
        body["issue"]["id"] = issue_id
        body["issue"]["self"] = f"https://issues.example.org/jira/rest/api/2/issue/{issue_id}"
    if key is not None:
        body["issue"]["key"] = key
    if timestamp is not None:
        body["timestamp"] = timestamp
    body["issue"]["fields"].update(fields)
    return body


def encode(body: dict[str, Any]) -> bytes:
    """As Jira sends it: compact JSON, UTF-8."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
