"""The site of the upgrade test (tests/test_upgrade.py): tasks and settings that the previous
release (0.1.0, the repository's commit 1d8f82a) and the current code both load. The test copies
this package into the previous release's tree; its tasks use only the public API of both."""
