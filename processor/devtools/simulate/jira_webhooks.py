"""Real Hadoop tickets as the ``jira:issue_created`` webhook bodies Jira would POST.

Shaped after the payload Jira Data Center/Server sends (ASF's Jira is one): top-level
``timestamp``, ``webhookEvent``, ``issue_event_type_name`` and ``user``, then ``issue`` with
``self``, ``id``, ``key`` and ``fields`` full of objects (``issuetype``, ``project``, ``priority``,
``status``, ``reporter``, ``versions``...), plus the custom fields and nulls a real body carries.
The demo sends these through the ingestion gateway.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from processor.devtools.simulate.jira_dataset import PROJECT_KEY, JiraTicket

BASE_URL = "https://issues.apache.org/jira"
_PRIORITY_IDS = {"Blocker": "1", "Critical": "2", "Major": "3", "Minor": "4", "Trivial": "5"}


def jira_time(epoch_ms: int) -> str:
    """Jira's own timestamp format: ``2024-03-01T10:22:31.000+0000``."""
    when = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}+0000"


def issue_created_webhook(ticket: JiraTicket, *, timestamp_ms: int, base_url: str = BASE_URL) -> dict[str, Any]:
    """The body of the webhook Jira fires when ``ticket`` is created at ``timestamp_ms``."""
    api = f"{base_url}/rest/api/2"
    reporter = {
        "self": f"{api}/user?username={ticket.reporter}",
        "name": ticket.reporter,
        "key": ticket.reporter,
        "displayName": ticket.reporter.replace("-", " ").title(),
        "active": True,
        "timeZone": "Etc/UTC",
        "avatarUrls": {"48x48": f"{base_url}/secure/useravatar?avatarId=10452"},
    }
    created = jira_time(timestamp_ms)
    return {
        "timestamp": timestamp_ms,
        "webhookEvent": "jira:issue_created",
        "issue_event_type_name": "issue_created",
        "user": reporter,
        "issue": {
            "id": ticket.issue_id,
            "self": f"{api}/issue/{ticket.issue_id}",
            "key": ticket.issue_key,
            "fields": {
                "issuetype": {
                    "self": f"{api}/issuetype/1",
                    "id": "1",
                    "description": "A problem which impairs or prevents the functions of the product.",
                    "iconUrl": f"{base_url}/secure/viewavatar?size=xsmall&avatarId=21133&avatarType=issuetype",
                    "name": "Bug",
                    "subtask": False,
                    "avatarId": 21133,
                },
                "project": {
                    "self": f"{api}/project/12310240",
                    "id": "12310240",
                    "key": PROJECT_KEY,
                    "name": "Hadoop Common",
                    "projectTypeKey": "software",
                },
                "priority": {
                    "self": f"{api}/priority/{_PRIORITY_IDS.get(ticket.priority, '3')}",
                    "name": ticket.priority,
                    "id": _PRIORITY_IDS.get(ticket.priority, "3"),
                },
                "status": {
                    "self": f"{api}/status/1",
                    "description": "The issue is open and ready for the assignee to start work on it.",
                    "name": "Open",
                    "id": "1",
                    "statusCategory": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
                },
                "summary": ticket.summary,
                "description": ticket.description,
                "reporter": reporter,
                "creator": reporter,
                "assignee": None,
                "components": [],
                "versions": [
                    {
                        "self": f"{api}/version/{1000 + i}",
                        "id": str(1000 + i),
                        "name": v,
                        "archived": False,
                        "released": True,
                    }
                    for i, v in enumerate(ticket.affects_versions)
                ],
                "fixVersions": [],
                "labels": [],
                "environment": None,
                "resolution": None,
                "resolutiondate": None,
                "created": created,
                "updated": created,
                "duedate": None,
                "watches": {"self": f"{api}/issue/{ticket.issue_key}/watchers", "watchCount": 1, "isWatching": True},
                "customfield_12310320": None,
                "customfield_12312521": created,
            },
        },
    }
