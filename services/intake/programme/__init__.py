"""The call for applications: dates, departments, documents and the eligibility rules."""
