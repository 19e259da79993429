"""The staff web console (`pipeline serve`): sign-in, roles, and a page per daily job."""
