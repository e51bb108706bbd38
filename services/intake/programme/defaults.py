"""The NIP 2027 call as the programme published it: the defaults every new call starts from."""

NATO_MEMBERS = (
    "AL BE BG CA HR CZ DK EE FI FR DE GR HU IS IT LV LT LU ME NL MK NO PL PT RO SK SI ES SE TR GB US"
).split()

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MB = 1024 * 1024

NIP_2027 = {
    "code": "nip-2027",
    # English for staff and the dossier; every language for applicants
    "name": "NATO Internship Programme 2027",
    "names": {"en": "NATO Internship Programme 2027", "fr": "Programme de stages de l'OTAN 2027"},
    "sessions": ["march", "september"],
    "languages": ["en", "fr"],
    "departments": [
        {"code": "polsci", "name": {"en": "Political science and international relations",
                                    "fr": "Science politique et relations internationales"}},
        {"code": "comms", "name": {"en": "Communications and public relations",
                                   "fr": "Communication et relations publiques"}},
        {"code": "finance", "name": {"en": "Finance and business administration",
                                     "fr": "Finance et administration des affaires"}},
        {"code": "it", "name": {"en": "Information technology and cybersecurity",
                                "fr": "Technologies de l'information et cybersécurité"}},
        {"code": "hr", "name": {"en": "Human resources and administration",
                                "fr": "Ressources humaines et administration"}},
    ],
    "documents": [
        {"kind": "cv", "label": "Curriculum vitae", "required": True, "types": [PDF, DOCX],
         "max_bytes": 5 * MB, "max_pages": 10},
        {"kind": "academic_proof", "label": "Proof of studies or degree", "required": True, "types": [PDF],
         "max_bytes": 10 * MB, "max_pages": 20},
        {"kind": "language_certificate", "label": "Language certificate", "required": False, "types": [PDF],
         "max_bytes": 5 * MB, "max_pages": 10},
    ],
    "rules": {
        "min_age": 21,
        "nationalities": NATO_MEMBERS,
        "min_years_completed": 2,
        "max_months_since_graduation": 12,
        "min_language_level": "B2",
        "motivation_words": [50, 700],
    },
}
