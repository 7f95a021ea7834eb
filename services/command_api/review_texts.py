"""What the panel review page says, in Dutch and English."""

from __future__ import annotations

from typing import Final, Literal

PageLocale = Literal["nl", "en"]

TEXTS: Final[dict[PageLocale, dict[str, str]]] = {
    "nl": {
        "title": "Kandidaten beoordelen",
        "intro": "{organisation} vraagt uw oordeel over kandidaten voor de vacature {vacancy}.",
        "due": "U kunt uw beoordeling wijzigen tot {due}.",
        "no_due": "U kunt uw beoordeling later nog wijzigen.",
        "blind": "Andere beoordelaars zien uw sterren en opmerkingen niet, en u niet die van hen.",
        "message_from": "Bericht van {recruiter}",
        "applied_on": "Gesolliciteerd op {date}",
        "cv": "Cv van {name} bekijken",
        "no_cv": "Geen cv beschikbaar.",
        "stars_legend": "Uw beoordeling van {name}",
        "star_label": "{n} van 7 sterren",
        "comment": "Opmerking (optioneel, maximaal {max} tekens)",
        "save": "Beoordelingen opslaan",
        "saved": "Uw beoordelingen zijn opgeslagen. U kunt ze wijzigen tot de deadline.",
        "errors": "Er is niets opgeslagen. Herstel het volgende:",
        "choose_stars": "Kies 1 tot 7 sterren voor {name}, of laat ook de opmerking leeg.",
        "comment_too_long": "De opmerking over {name} is langer dan {max} tekens.",
        "bad_stars": "Kies voor {name} een waarde van 1 tot 7 sterren.",
        "language": "English",
        "error_title": "Deze link werkt niet",
        "unknown": "Deze link is niet (meer) geldig. Misschien is er een nieuwere link gestuurd.",
        "revoked": "Deze link is ingetrokken. Neem contact op met de recruiter als dat niet klopt.",
        "expired": "De termijn voor deze beoordeling is voorbij. Wijzigen kan niet meer.",
        "closed": "Deze beoordeling is gesloten. Wijzigen kan niet meer.",
        "csrf": "Het formulier is verlopen. Open de link opnieuw en probeer het nog eens.",
    },
    "en": {
        "title": "Review candidates",
        "intro": "{organisation} asks for your view on candidates for the {vacancy} vacancy.",
        "due": "You can change your ratings until {due}.",
        "no_due": "You can come back and change your ratings later.",
        "blind": "Other reviewers do not see your stars and comments, nor you theirs.",
        "message_from": "Message from {recruiter}",
        "applied_on": "Applied on {date}",
        "cv": "View the CV of {name}",
        "no_cv": "No CV available.",
        "stars_legend": "Your rating of {name}",
        "star_label": "{n} of 7 stars",
        "comment": "Comment (optional, at most {max} characters)",
        "save": "Save ratings",
        "saved": "Your ratings are saved. You can change them until the due date.",
        "errors": "Nothing was saved. Please correct the following:",
        "choose_stars": "Choose 1 to 7 stars for {name}, or leave the comment empty too.",
        "comment_too_long": "The comment on {name} is longer than {max} characters.",
        "bad_stars": "Choose a value from 1 to 7 stars for {name}.",
        "language": "Nederlands",
        "error_title": "This link does not work",
        "unknown": "This link is not valid (any more). A newer link may have been sent.",
        "revoked": "This link was revoked. Please contact the recruiter if that is a mistake.",
        "expired": "The time for this review is over. Ratings can no longer be changed.",
        "closed": "This review is closed. Ratings can no longer be changed.",
        "csrf": "The form has expired. Please open the link again and try once more.",
    },
}
