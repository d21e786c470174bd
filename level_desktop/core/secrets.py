"""The Gemini API key: read from the environment or the OS keyring, never from a Level file.

`GEMINI_API_KEY` wins over the keyring, so a shell or CI can override a stored key. The key is
kept out of project files, exports, logs and error messages; `scrub` removes it from any text
that is about to be shown or logged.
"""

from __future__ import annotations

import contextlib
import os

from level_desktop.core.errors import SettingsError

ENV_VAR = "GEMINI_API_KEY"
KEYRING_SERVICE = "level-desktop"
KEYRING_USER = "gemini-api-key"


def _from_env() -> str | None:
    return os.environ.get(ENV_VAR, "").strip() or None


def _from_keyring() -> str | None:
    try:
        import keyring

        key = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
    except Exception:  # no keyring, a locked or broken backend: behave as if no key was stored
        return None
    return (key.strip() or None) if isinstance(key, str) else None


def get_gemini_key() -> str | None:
    """The Gemini API key from `GEMINI_API_KEY`, else from the OS keyring; None when neither has one."""
    return _from_env() or _from_keyring()


def gemini_key_source() -> str | None:
    """Where `get_gemini_key` finds the key ("environment" or "keyring"), for the settings dialog."""
    if _from_env():
        return "environment"
    if _from_keyring():
        return "keyring"
    return None


def set_gemini_key(key: str) -> None:
    """Store `key` in the OS keyring; an empty key deletes the stored one.

    Raises `SettingsError` (without the key's text) when the keyring cannot store it.
    """
    _store_key(KEYRING_USER, key, "The Gemini API key", ENV_VAR)


def _store_key(user: str, key: str, what: str, env_var: str) -> None:
    """Store (or with an empty `key`, delete) one of Level's keys in the OS keyring."""
    key = key.strip()
    try:
        import keyring
        from keyring.errors import PasswordDeleteError

        if key:
            keyring.set_password(KEYRING_SERVICE, user, key)
            return
        with contextlib.suppress(PasswordDeleteError):  # nothing was stored
            keyring.delete_password(KEYRING_SERVICE, user)
    except Exception as err:
        detail = scrub(f"{type(err).__name__}: {err}", key) if str(err) else type(err).__name__
        raise SettingsError(
            f"{what} cannot be {'stored in' if key else 'removed from'} the system "
            f"keyring ({detail}). Set the environment variable {env_var} instead.") from None


def scrub(text: str, key: str | None) -> str:
    """`text` with every occurrence of `key` replaced by '***'."""
    return text.replace(key, "***") if key else text


# ----- the key of an OpenAI-compatible server (optional: local servers rarely want one) -----

LLM_ENV_VAR = "LEVEL_LLM_API_KEY"
LLM_KEYRING_USER = "llm-api-key"


def get_llm_key() -> str | None:
    """The OpenAI-compatible server's key from `LEVEL_LLM_API_KEY`, else from the OS keyring."""
    from_env = os.environ.get(LLM_ENV_VAR, "").strip()
    if from_env:
        return from_env
    try:
        import keyring

        key = keyring.get_password(KEYRING_SERVICE, LLM_KEYRING_USER)
    except Exception:  # no keyring, a locked or broken backend: no key
        return None
    return (key.strip() or None) if isinstance(key, str) else None


def set_llm_key(key: str) -> None:
    """Store the OpenAI-compatible server's key in the OS keyring (empty: delete it); raises
    `SettingsError` without the key's text when the keyring cannot."""
    _store_key(LLM_KEYRING_USER, key, "The LLM server's API key", LLM_ENV_VAR)
