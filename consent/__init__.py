"""The consent register: people, per-channel consent, expiry, never-publish, reference photos, matching."""
