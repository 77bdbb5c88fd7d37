"""Post-deployment monitoring: drift between production logs and the reference, and feedback into regression cases."""
