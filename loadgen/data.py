"""Synthetic applicants: names with accents, nationalities, studies and motivation texts."""
from __future__ import annotations

import random
import unicodedata
from datetime import date, timedelta


# Given and family names as people write them, so the pipeline sees real-world Unicode.
GIVEN_NAMES = (
    "Zoë", "Łukasz", "Ségolène", "Ørjan", "Çağla", "Ana", "Jürgen", "Björk", "Mátyás", "Małgorzata", "Søren",
    "Élodie", "François", "Inês", "João", "Núria", "Ľubomír", "Dávid", "Ştefan", "Ioana", "Αλέξανδρος",
    "Zdeněk", "Željko", "Jovana", "Aleksandër", "Đorđe", "Tõnis", "Kārlis", "Gintarė", "Siân", "Aoife",
    "Chloé", "Renée", "Raphaël", "Noémie", "Håkon", "Åsa", "Eetu", "Väinö", "Þórunn", "Guðrún", "Ömer",
    "Emma", "Liam", "Olivia", "Noah", "Mia", "Lucas", "Sofia", "Mateo", "Marie-Ève", "Jean-Loïc", "Éloïse",
)
FAMILY_NAMES = (
    "Kowalczyk", "Lefèvre", "Østergaard", "Yılmaz", "Popescu", "Müller", "Gonçalves", "Fernández", "Horváth",
    "Dvořák", "Novák", "Šimić", "Nowakowska", "Brønnum", "Sæther", "Järvinen", "Kõiv", "Bērziņš", "Žukauskas",
    "Ó Súilleabháin", "O'Brien", "Van der Berg", "De la Cruz", "Dubois", "Gagné", "Leclère", "Papadopoulou",
    "Σταματόπουλος", "Ivanova", "Georgiev", "Kovačević", "Hoxha", "Đukanović", "Ruiz-Peña", "García López",
    "Rossi", "Bianchi", "Esposito", "Smith", "Jones", "Nguyen", "Campbell", "Côté", "Bélanger", "Öztürk",
    "Şahin", "Guðmundsdóttir", "Jónsson", "Nieminen", "Lindqvist", "Sørensen", "Peeters", "Schröder",
)
NON_NATO = ("CH", "AT", "IE", "MT", "CY", "RS", "UA", "MD", "GE", "BR", "JP", "IN", "MA", "TN", "NZ", "ZA")
INSTITUTIONS = (
    "Université libre de Bruxelles", "KU Leuven", "Uniwersytet Jagielloński", "Sciences Po", "Universität Wien",
    "Universidade de Lisboa", "Universitat de Barcelona", "Eötvös Loránd Tudományegyetem", "Univerzita Karlova",
    "Københavns Universitet", "Tartu Ülikool", "Latvijas Universitāte", "Vilniaus universitetas",
    "Università di Bologna", "Universitatea din București", "Boğaziçi Üniversitesi", "University of Edinburgh",
    "Université de Montréal", "Georgetown University", "Norges teknisk-naturvitenskapelige universitet",
    "Háskóli Íslands", "Aalto-yliopisto", "Lunds universitet", "Universiteit Leiden", "Université Laval",
)
FIELDS = {
    "polsci": ("International relations", "Political science", "European studies", "Security studies"),
    "comms": ("Journalism", "Communication sciences", "Public relations", "Media studies"),
    "finance": ("Finance", "Business administration", "Economics", "Accounting"),
    "it": ("Computer science", "Cybersecurity", "Software engineering", "Data science"),
    "hr": ("Human resources management", "Public administration", "Organisational psychology", "Law"),
}
SENTENCES = {
    "en": (
        "I want to contribute to international cooperation and learn how an alliance of democracies turns policy "
        "into practice.",
        "During my studies I worked on a project about resilience of critical infrastructure across borders.",
        "My semester abroad taught me to work in multicultural teams and to write clearly under pressure.",
        "I would bring rigour, curiosity and a habit of checking sources before drawing conclusions.",
        "An internship at headquarters would let me see how consensus is built among many nations.",
        "I volunteered for a student association organising debates on security and defence.",
        "My thesis examines how public communication shapes trust in institutions during crises.",
        "I am fluent in several languages and enjoy explaining complex topics to different audiences.",
        "I hope to learn from experienced colleagues and to give back through careful, reliable work.",
        "The programme matches both my academic background and the career I am preparing for.",
    ),
    "fr": (
        "Je souhaite contribuer à la coopération internationale et comprendre comment une alliance traduit ses "
        "décisions en actions concrètes.",
        "Pendant mes études, j'ai travaillé sur la résilience des infrastructures critiques transfrontalières.",
        "Mon séjour Erasmus m'a appris à travailler en équipe multiculturelle et à rédiger avec précision.",
        "J'apporterais de la rigueur, de la curiosité et l'habitude de vérifier mes sources.",
        "Un stage au siège me permettrait de voir comment le consensus se construit entre nations.",
        "J'ai été bénévole dans une association étudiante qui organise des débats sur la sécurité.",
        "Mon mémoire porte sur la communication publique et la confiance envers les institutions.",
        "Je parle plusieurs langues et j'aime expliquer des sujets complexes à des publics variés.",
        "J'espère apprendre de collègues expérimentés et rendre la pareille par un travail soigné.",
        "Ce programme correspond à ma formation comme au métier auquel je me prépare.",
    ),
}
DEFAULT_DEADLINE = date(2027, 1, 31)


def ascii_slug(text: str) -> str:
    """An email-safe rendering of a name: Zoë Łukasz → zoe.lukasz (letters outside Latin are dropped)."""
    folded = unicodedata.normalize("NFKD", text.replace("Ł", "L").replace("ł", "l").replace("Ø", "O")
                                   .replace("ø", "o").replace("Đ", "D").replace("đ", "d").replace("Þ", "Th")
                                   .replace("þ", "th").replace("ß", "ss").replace("Æ", "Ae").replace("æ", "ae"))
    kept = "".join(c for c in folded if c.isascii() and (c.isalnum() or c in " -'"))
    return "-".join(kept.lower().replace("'", "").split()) or "applicant"


def motivation(rng: random.Random, language: str, words: int) -> str:
    """About `words` words (never fewer) of plausible motivation in `language`."""
    pool = SENTENCES[language]
    text: list[str] = []
    while sum(len(s.split()) for s in text) < words:
        text.append(rng.choice(pool))
    return " ".join(text)


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))
