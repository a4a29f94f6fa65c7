"""Public case ids: random, unguessable and uncountable, yet easy to read out on the phone."""

import secrets

# Crockford's base32: no I, L, O or U, so the id survives being read aloud or retyped.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_GROUPS = 3
_GROUP_LENGTH = 4  # 12 symbols = 60 random bits


def new_public_id() -> str:
    symbols = "".join(secrets.choice(_ALPHABET) for _ in range(_GROUPS * _GROUP_LENGTH))
    groups = [symbols[i : i + _GROUP_LENGTH] for i in range(0, len(symbols), _GROUP_LENGTH)]
    return "DP-" + "-".join(groups)


def normalise_public_id(value: str) -> str:
    """Accept what people type: lower case, spaces, O for 0 and I/L for 1."""
    cleaned = value.strip().upper().replace(" ", "")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    if cleaned.startswith("DP") and not cleaned.startswith("DP-"):
        cleaned = "DP-" + cleaned[2:]
    body = cleaned[3:].replace("-", "")
    if len(body) != _GROUPS * _GROUP_LENGTH:
        return cleaned
    return "DP-" + "-".join(body[i : i + _GROUP_LENGTH] for i in range(0, len(body), _GROUP_LENGTH))
