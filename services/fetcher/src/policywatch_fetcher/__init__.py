"""policywatch."""
