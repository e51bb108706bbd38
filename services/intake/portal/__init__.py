"""The applicant's portal: single-use emailed links that start a session, and the page of one application with
every action its status allows."""
