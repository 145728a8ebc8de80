"""The `offhook` command."""
