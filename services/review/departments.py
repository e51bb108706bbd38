"""The programme's departments (fields), as the call names them."""


def N_(message: str) -> str:
    """Marks a name for the review catalog's extraction; `i18n.department_label` translates it where shown."""
    return message


DEPARTMENTS: dict[str, str] = {
    "polsci": N_("Political science and international relations"),
    "comms": N_("Communications and public relations"),
    "finance": N_("Finance and business administration"),
    "it": N_("Information technology and cybersecurity"),
    "hr": N_("Human resources and administration"),
}
DEPARTMENT_CODES = tuple(DEPARTMENTS)
