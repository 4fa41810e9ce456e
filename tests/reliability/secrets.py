"""Secret-bearing exception messages, and a check that none of them reached the wire.

Each entry is a message a provider SDK or an HTTP library really produces (the
key formats are the vendors'; the values are fake), with the fragments that
must never be seen by a client: the credential itself, and the parts of
internal addresses that identify the infrastructure.
"""

from __future__ import annotations

from typing import NamedTuple


class Secret(NamedTuple):
    name: str
    message: str
    #: Substrings that must appear in no byte sent to the client.
    fragments: tuple[str, ...]


_TRACEBACK = """Traceback (most recent call last):
  File "/home/app/service/llm_client.py", line 88, in complete
    response = session.post(url, headers={"Authorization": f"Bearer {key}"})
  File "/home/app/.venv/lib/python3.11/site-packages/requests/api.py", line 115, in post
    return request("post", url, data=data, json=json, **kwargs)
requests.exceptions.ConnectionError: HTTPSConnectionPool(host='gpu-7.internal.corp', port=443)"""

SECRETS: tuple[Secret, ...] = (
    Secret(
        "openai",
        "Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdEFGH. "
        "You can find your API key at https://platform.openai.com/account/api-keys.",
        ("sk-proj-AbCdEf", "0123456789abcdEFGH"),
    ),
    Secret(
        "anthropic",
        "authentication_error: invalid x-api-key sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0F"
        "-eDcBa_987654321-AAAA",
        ("sk-ant-api03", "Zx9Yw8Vu7Ts6"),
    ),
    Secret(
        "google",
        "API key not valid: AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY (reason: API_KEY_INVALID)",
        ("AIzaSyD-9tSrke72", "PouQMnMX"),
    ),
    Secret(
        "aws",
        "The security token included in the request is invalid: AKIAIOSFODNN7EXAMPLE "
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "bPxRfiCYEXAMPLEKEY"),
    ),
    Secret(
        "github",
        "Bad credentials for token ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        ("ghp_16C7e42F", "E7710c838347Ae178B4a"),
    ),
    Secret(
        "slack",
        "invalid_auth: xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        ("xoxb-1765", "pdFZKVeTuE8sk7oOcBrzbqgy"),
    ),
    Secret(
        "huggingface",
        "401 Client Error: Invalid token 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 for model",
        ("hf_jVhQzX", "LqWeRtYuIoP"),
    ),
    Secret(
        "bearer",
        "request failed with headers {'Authorization': 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx"
        "MjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'}",
        ("eyJhbGciOiJIUzI1NiJ9", "dozjgNryP4J3jVmNHl0w5N"),
    ),
    Secret(
        "url-credentials",
        "POST https://svc-user:S3cr3tPassw0rd@llm-gateway.internal.corp:8443/v1/chat failed",
        ("S3cr3tPassw0rd", "svc-user", "llm-gateway", "internal.corp"),
    ),
    Secret(
        "cluster-host",
        "could not connect to db.internal.svc.cluster.local: connection refused",
        ("db.internal", "svc.cluster.local"),
    ),
    Secret(
        "private-ip",
        "connection to 10.0.0.12:5432 timed out (postgres)",
        ("10.0.0.12", ":5432"),
    ),
    # The shapes an attacker's review found reaching the browser (issue 13), and their kin.
    Secret(
        "aws-secret-unlabelled",
        "SignatureDoesNotMatch: credentials 9dRk+Yb3/Tq1vPzW8xLmN0aHc2Ue+Jf5KsGo7Qi4 rejected",
        ("9dRk+Yb3", "Tq1vPzW8xLmN0aHc2Ue", "Jf5KsGo7Qi4"),
    ),
    Secret(
        "gcp-service-account-pem",
        'invalid credentials {"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY'
        "-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\\nMrZ/4hNx"
        'EqU+gG5hYbFZf0wQ4a\\n-----END PRIVATE KEY-----\\n", "client_email": '
        '"sa@p.iam.gserviceaccount.com"}',
        ("MIIEvQIBADANBgkqhkiG9w0", "BKcwggSjAgEAAoIBAQC7", "VJTUt9Us8cKj", "EqU+gG5hYbFZf0wQ4a"),
    ),
    Secret(
        "azure-sas-without-scheme",
        "AuthenticationFailed: ?sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2025-01-01T00:00:00Z"
        "&sig=Xy7%2B9AbCdEfGhIjKlMnOpQrStUvWx%2FyZ0123456789%3D",
        ("Xy7%2B9AbCdEf", "GhIjKlMnOpQrStUvWx", "yZ0123456789"),
    ),
    Secret(
        "azure-hex-key",
        "Access denied due to invalid subscription key 0a1b2c3d4e5f67890a1b2c3d4e5f6789.",
        ("0a1b2c3d4e5f6789",),
    ),
    Secret(
        "single-label-host",
        "Cannot connect to host llm-gateway:8080 ssl:default [Connect call failed]",
        ("llm-gateway",),
    ),
    Secret(
        "schemeless-host-and-path",
        "POST inference-gw:8443/v1/chat/completions failed; HTTPConnectionPool(host='ml-proxy',"
        " port=80)",
        ("inference-gw", "ml-proxy"),
    ),
    Secret(
        "upper-case-domain",
        "cannot reach API.INTERNAL.EXAMPLE.COM: timed out",
        ("internal.example", "api.internal"),
    ),
    Secret(
        "gcp-oauth-and-stripe",
        "invalid token ya29.a0AfH6SMBxQzLkPdTm-9vRwYn_3uJ and key rk_live_51H8abcDEFghiJKLmn",
        ("ya29.a0AfH6", "SMBxQzLkPdTm", "rk_live_51H8", "abcDEFghiJKLmn"),
    ),
    Secret(
        "basic-auth-and-password-query",
        "auth to admin:Sup3rS3cret!@db.internal:5432 failed; Authorization: Basic "
        "YWRtaW46aHVudGVyMg== ?user=bob&password=correct-horse-battery",
        ("Sup3rS3cret", "db.internal", "YWRtaW46aHVudGVyMg", "correct-horse-battery"),
    ),
    Secret(
        "connection-string",
        "Server=tcp:sql-prod.database.windows.net,1433;User ID=app;Password=Pa55w0rd!Secret;",
        ("sql-prod", "database.windows", "Pa55w0rd"),
    ),
    Secret(
        "traceback",
        _TRACEBACK,
        ("/home/app", "llm_client.py", "site-packages", "gpu-7", "Traceback"),
    ),
    Secret(
        "traceback-after-message",
        "model call failed\n" + _TRACEBACK,
        ("/home/app", "llm_client.py", "gpu-7", "Traceback"),
    ),
)

#: What :data:`tests.support.server_app.BOT_FAILURE` must never show.
BOT_FAILURE_FRAGMENTS = ("sk-proj-Chaos", "0123456789abcdefABCDEF", "hunter2", "llm.internal")


def leaked(raw: bytes, fragments: tuple[str, ...]) -> list[str]:
    """The fragments found in ``raw`` (as UTF-8 or JSON-escaped), case-insensitively."""
    text = raw.decode("utf-8", "replace").lower()
    found = []
    for fragment in fragments:
        needle = fragment.lower()
        escaped = needle.replace("/", "\\/")
        if needle in text or escaped in text:
            found.append(fragment)
    return found
