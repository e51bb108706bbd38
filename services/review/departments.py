"""The programme's departments (fields), as the call names them."""

DEPARTMENTS: dict[str, str] = {
    "polsci": "Political science and international relations",
    "comms": "Communications and public relations",
    "finance": "Finance and business administration",
    "it": "Information technology and cybersecurity",
    "hr": "Human resources and administration",
}
DEPARTMENT_CODES = tuple(DEPARTMENTS)
