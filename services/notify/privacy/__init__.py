"""Data protection in notify: `application.erased` removes the person from the delivery log (and, in embedded
mode, from the mail catcher's folder); later events about an erased reference send nothing."""
