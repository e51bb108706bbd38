"""The embedded mailbox: mail caught by the local SMTP catcher, shown to people and machines."""
