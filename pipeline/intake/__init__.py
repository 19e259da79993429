"""Files received for processing other than by dropping them into the inbox (console uploads)."""
