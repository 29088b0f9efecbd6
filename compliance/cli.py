"""``risk-engine keys …`` and ``risk-engine report …`` (mounted by ``risk_engine.cli``)."""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from risk_engine.errors import DomainError

keys_app = typer.Typer(help="Signing and data-encryption keys (RISK_KEYS_DIR).", no_args_is_help=True)
report_app = typer.Typer(help="Signed decision reports.", no_args_is_help=True)
ACTOR = "system:cli"


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def key_provider():  # noqa: ANN201
    from compliance.keys import key_provider_for
    from risk_engine.settings import get_settings

    return key_provider_for(get_settings())


def load_jwks(source: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """A JWKS from a file or an http(s) URL (``http://127.0.0.1:8000/.well-known/jwks.json``)."""
    try:
        if source.startswith(("http://", "https://")):
            request = urllib.request.Request(source, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
                document = json.loads(response.read().decode("utf-8"))
        else:
            document = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise ValueError(f"cannot read the JWKS from {source}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError(f"{source} is not a JWKS (an object with a 'keys' list)")
    return document


def verification_jwks(source: str | None) -> dict[str, Any] | None:
    """The JWKS to check checkpoints with: ``source`` when given, else the local keys' public JWKS; None
    when there are no local signing keys (none are created here). A caller must not read checkpoints
    that then fail as "signed by an unknown key" as tampering: the keys directory may just be wrong."""
    if source is not None:
        return load_jwks(source)
    from compliance.keys import SIGNING_KEYS_FILE

    keys = key_provider()
    if not (keys.keys_dir / SIGNING_KEYS_FILE).exists():
        return None
    return keys.public_jwks()


@keys_app.command("init")
def keys_init() -> None:
    """Make the keys of a new installation: the signing keyring, the data keyring and the blind-index key
    (the ones already there are kept). With RISK_ENV=production nothing else makes keys: back them up now."""
    keys = key_provider()
    made = keys.init()
    typer.echo(json.dumps({"keys_dir": str(keys.keys_dir.resolve()), "made": made,
                           "signing_kid": keys.current_signing_kid(), "data_kid": keys.current_data_key().kid}))


@keys_app.command("rotate")
def keys_rotate(
    signing: Annotated[bool, typer.Option("--signing",
                                          help="new signing key; old ones stay in the JWKS")] = False,
    immediately: Annotated[bool, typer.Option(
        "--immediately", help="with --signing: the new key signs at once instead of after the JWKS cache "
                              "lifetime (a compromised key); banks holding a cached JWKS see unknown_kid "
                              "until they fetch it again")] = False,
    data: Annotated[bool, typer.Option("--data",
                                       help="new data key, then re-encrypt every stored value")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="rows per committed batch")] = 500,
) -> None:
    """Rotate the signing key (--signing) and/or the data key (--data; re-encrypts in batches).

    A new signing key is published in the JWKS at once and signs once the JWKS cache lifetime has passed,
    so that no bank's cached copy lacks it; --immediately skips the wait."""
    if not (signing or data):
        _fail("say which key to rotate: --signing and/or --data", code=2)
    if immediately and not signing:
        _fail("--immediately applies to --signing", code=2)
    from compliance import audit
    from risk_engine.db import get_database

    keys, database, result = key_provider(), get_database(), {}
    if signing:
        old = keys.current_signing_kid()
        new = keys.rotate_signing(immediately=immediately)
        pending = keys.next_signing_key()
        takes_over_at = _timestamp(pending[1]) if pending and pending[0] == new else None
        with database.unit_of_work() as session:
            audit.record(session, actor=ACTOR, action="keys.signing_rotated", subject_type="signing_key",
                         subject_id=new, payload={"retired": old, "takes_over_at": takes_over_at})
        result["signing_kid"], result["signing_takes_over_at"] = new, takes_over_at
        if takes_over_at is None:
            typer.echo(f"signing key {old} retired (still in the JWKS); new reports are signed with {new}",
                       err=True)
        else:
            typer.echo(f"signing key {new} is published in the JWKS now and signs from {takes_over_at}; "
                       f"until then {old} signs (it stays in the JWKS)", err=True)
    if data:
        old = keys.current_data_key().kid
        new = keys.rotate_data()
        with database.unit_of_work() as session:
            audit.record(session, actor=ACTOR, action="keys.data_rotated", subject_type="data_key",
                         subject_id=new, payload={"retired": old})
        result["data_kid"] = new
        result["reencrypted"] = _reencrypt(keys, database, batch_size)
    typer.echo(json.dumps(result))


@keys_app.command("revoke-signing")
def keys_revoke_signing(
    kid: Annotated[str, typer.Argument(help="the signing key's kid (keys status, the JWKS)")],
    reason: Annotated[str, typer.Option(help="why: a compromised key, a leaked backup... (audited)")],
) -> None:
    """Withdraw a compromised signing key: it leaves the JWKS (listed under "revoked") and never signs again;
    a current key is first replaced by a new one that signs at once. Then a checkpoint is signed with the new
    key. Reports and checkpoints it signed no longer verify: banks pull their reports again."""
    from compliance import audit
    from compliance.checkpoints import checkpoint_now
    from compliance.keys import UnknownKey
    from risk_engine.db import get_database

    keys, database = key_provider(), get_database()
    try:
        current = keys.revoke_signing(kid, reason=reason)
    except (UnknownKey, ValueError) as exc:
        _fail(str(exc).strip("'\""))
    with database.unit_of_work() as session:
        audit.record(session, actor=ACTOR, action="keys.signing_revoked", subject_type="signing_key",
                     subject_id=kid, payload={"reason": reason.strip(), "signing_kid": current})
    checkpoint = checkpoint_now(database, keys)
    typer.echo(json.dumps({"revoked": kid, "signing_kid": current, "checkpoint": checkpoint.tree_size}))
    typer.echo(f"signing key {kid} revoked and withdrawn from the JWKS; {current} signs; checkpoint "
               f"{checkpoint.tree_size} signed with it. Tell the banks to fetch the JWKS and pull their reports "
               "again", err=True)


@keys_app.command("reencrypt")
def keys_reencrypt(
    batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="rows per committed batch")] = 500,
) -> None:
    """Finish re-encrypting values still under a retired data key (after an interrupted rotation)."""
    from risk_engine.db import get_database

    typer.echo(json.dumps({"reencrypted": _reencrypt(key_provider(), get_database(), batch_size)}))


def _reencrypt(keys: Any, database: Any, batch_size: int) -> dict[str, int]:
    from compliance import fieldcrypt, pii

    counts: dict[str, int] = {}
    try:
        for batch in pii.reencrypt_all(database, keys, actor=ACTOR, batch_size=batch_size):
            counts[batch.table] = counts.get(batch.table, 0) + batch.rows
            typer.echo(f"re-encrypted {batch.rows} {batch.table} rows ({batch.first_id}..{batch.last_id})",
                       err=True)
    except fieldcrypt.UndecryptableField as exc:
        typer.echo(json.dumps({"reencrypted": counts, "error": str(exc)}))
        _fail(f"re-encryption stopped: {exc}")
    return counts


@keys_app.command("status")
def keys_status() -> None:
    """Current key ids, a published signing key waiting to take over (and when), the JWKS size, and how
    many rows still hold values under a retired data key."""
    from compliance import pii
    from risk_engine.db import get_database

    keys = key_provider()
    with get_database().unit_of_work() as session:
        stale = pii.stale_values(session, keys)
    pending = keys.next_signing_key()
    typer.echo(json.dumps({"signing_kid": keys.current_signing_kid(),
                           "next_signing_key": pending and {"kid": pending[0], "takes_over_at": _timestamp(pending[1])},
                           "data_kid": keys.current_data_key().kid,
                           "jwks_keys": len(keys.public_jwks()["keys"]),
                           "rows_under_retired_data_keys": stale}))


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@report_app.command("verify")
def report_verify(
    file: Annotated[str, typer.Argument(help="the report: a compact JWS (application/jose); - for stdin")],
    jwks: Annotated[str, typer.Option("--jwks", help="the JWKS: a file or an http(s) URL")],
) -> None:
    """Verify a signed decision report: signature, decision hash, signed checkpoint, inclusion proof.
    Exit 0 when valid, 1 when not, 2 when the inputs cannot be read."""
    from compliance import reports

    try:
        token = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        keyset = load_jwks(jwks)
    except (OSError, ValueError) as exc:
        _fail(str(exc), code=2)
    try:
        verified = reports.verify_decision_report(token.strip(), keyset)
    except DomainError as exc:
        typer.echo(json.dumps({"status": "invalid", "code": exc.code, "reason": exc.detail}))
        _fail(f"report does not verify: {exc.detail}")
    audit_part = verified.payload["audit"]
    typer.echo(json.dumps({
        "status": "valid", "kid": verified.kid, "alg": verified.alg, "checks": list(verified.checks),
        "decision_sha256": verified.payload["decision_sha256"], "issued_at": verified.payload["issued_at"],
        "audit_seq": audit_part["seq"], "checkpoint_tree_size": audit_part["checkpoint"]["tree_size"],
        "decision": verified.decision,
    }, ensure_ascii=False))
