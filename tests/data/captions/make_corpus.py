"""Write corpus.json from the cases below (kept as Python so invisible characters can be spelt out).

Each case: the caption, the people it names (their names must not survive where they are not
kept), the expected caption when nobody is kept (face-free photos: every channel), and optionally
the expected caption when some people are kept on a channel.  ``harmless`` cases name nobody and
must come back unchanged.  Run: python tests/data/captions/make_corpus.py
"""
import json
from pathlib import Path

ZWJ, ZWSP, SHY, NBH, NBSP, WJ = "\u200d", "\u200b", "\u00ad", "\u2011", "\u00a0", "\u2060"
CYR = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "i": "\u0456",
                     "A": "\u0410", "H": "\u041d", "T": "\u0422", "K": "\u041a", "M": "\u041c", "O": "\u041e"})
NFD = lambda s: __import__("unicodedata").normalize("NFD", s)   # noqa: E731

HOSTILE = [
    # run together, hashtags, handles
    ("#AmeliaHart at sports day", ["P01"], "at sports day", {"P01": "#Amelia at sports day"}),
    ("Go #amelia_hart!", ["P01"], "Go!", {"P01": "Go #amelia!"}),
    ("Follow @amelia.hart for more", ["P01"], "Follow for more", None),
    ("AmeliaHartFanClub meets on Friday", ["P01"], "FanClub meets on Friday", None),
    ("ameliahartfanclub", ["P01"], "fanclub", None),
    ("#WeLoveAmeliaHart", ["P01"], "#WeLove", None),
    ("#iloveameliahartsomuch", ["P01"], None, None),
    ("#ThanhNguyen #KofiMensah #Y6", ["P05", "P18"], "#Y6", None),
    ("Zoë O'Neill and ZoeONeill", ["P02"], "", None),
    # e-mail addresses and web addresses
    ("Contact a.hart@school.org for prints", ["P01"], "Contact for prints", {"P01": "Contact for prints"}),
    ("Parents: write to amelia.hart@example.com today", ["P01"], "Parents: write to today", None),
    ("ahart@school.org", ["P01"], "", None),
    ("See https://school.example/gallery/amelia-hart for more", ["P01"], "See for more", None),
    ("www.school.example/2026/thanh_nguyen.jpg", ["P05"], "", None),
    ("hart.a@school.org sent this", ["P01"], "sent this", None),
    # case, middle names, emoji between
    ("amelia rose hart won the spelling bee", ["P01"], None, None),
    ("AMELIA HART WON", ["P01"], "WON", {"P01": "AMELIA WON"}),
    ("Well done Amelia 🎉 Hart!", ["P01"], "Well done!", {"P01": "Well done Amelia!"}),
    ("Thanh 🏅🏅 Nguyen takes gold", ["P05"], "takes gold", None),
    ("Kofi Kwame Mensah scored twice", ["P18"], None, None),
    # invisible characters, look-alike letters, decomposed accents, non-breaking hyphens
    (f"Ame{ZWJ}lia Hart at the fair", ["P01"], "at the fair", None),
    (f"Amelia Ha{SHY}rt at the fair", ["P01"], "at the fair", None),
    (f"Kofi{ZWSP} Men{WJ}sah", ["P18"], "", None),
    ("Amelia Hart".translate(CYR) + " at the fair", ["P01"], "at the fair", None),
    ("Thanh Nguyen".translate(CYR) + " painted this", ["P05"], "painted this", None),
    (NFD("Zoë O'Neill") + " sang", ["P02"], "sang", None),
    (NFD("Siobhán Smith-Jones") + " at the gala", ["P04"], "at the gala", None),
    (NFD("Daniel Sánchez") + " read a poem", ["P25"], "read a poem", None),
    (f"Siobhán Smith{NBH}Jones", ["P04"], "", None),
    (f"Amelia{NBSP}Hart and friends", ["P01"], "friends", None),
    ("Ｔｈａｎｈ Ｎｇｕｙｅｎ", ["P05"], "", None),
    ("Lukasz Wisniewski? No: Łukasz van der Berg", ["P03"], "No:", None),
    ("Bartosz Wisniewski", ["P22"], "", None),
    ("BARTOSZ WIŚNIEWSKI", ["P22"], "", None),
    # orders and initials
    ("Hart, Amelia (Y4)", ["P01"], "(Y4)", {"P01": "Amelia (Y4)"}),
    ("Nguyen Thanh", ["P05"], "", None),
    ("A. Hart came first", ["P01"], "came first", {"P01": "Amelia came first"}),
    ("Winner: A Hart", ["P01"], "Winner:", None),
    ("Winner: Amelia H.", ["P01"], "Winner:", {"P01": "Winner: Amelia"}),
    ("K. Mensah and T. Nguyen", ["P18", "P05"], "", None),
    ("Photo by AHart", ["P01"], "Photo", None),
    # possessives, plurals and particles
    ("Amelia Hart's painting", ["P01"], "painting", {"P01": "Amelia's painting"}),
    ("Kofi Mensah’s goal", ["P18"], "goal", None),
    ("van der Berg scored the winner", ["P03"], "scored the winner", None),
    ("Van Der Berg scored the winner", ["P03"], "scored the winner", None),
    ("Congratulations to the O'Neills on the new baby", ["P02"], "Congratulations on the new baby", None),
    ("The Nguyens visited", ["P05"], None, None),
    ("Mr O'Brien and Mrs O’Brien helped", ["P13"], "helped", None),
    ("Great work from Smith-Jones", ["P04"], "Great work", None),
    ("Siân Ó Briain led the trip", ["P30"], "led the trip", None),
    ("Ms D'Souza's class", ["P26"], "class", None),
    ("Leo DSouza", ["P26"], "", None),
    # lone names of pupils refused on the channel
    ("Well done Łukasz!", ["P03"], "Well done!", None),
    ("Chloé drew this", ["P14"], "drew this", None),
    ("Dubois family day", ["P14"], "family day", None),
    ("Siobhán, Priya and Freya on the climbing wall", ["P04", "P11", "P19"], "on the climbing wall", None),
    ("Bartosz and Isla in the play", ["P22", "P20"], "in the play", {"P20": "Isla in the play"}),
    ("Tom, Priya and Sam won", ["P11"], "Tom and Sam won", None),
    ("Thanks to Mensah, Nguyen and Patel", ["P18", "P05", "P11"], "Thanks", None),
    ("Freya MacDonald and Isla McAllister", ["P19", "P20"], "", {"P20": "Isla"}),
    ("Eve Ng and Noah Lee", ["P29", "P21"], "", None),
    ("Ng won", ["P29"], "won", None),
    # names that are also words, in a context that makes them names
    ("Rose Turner won", ["P06"], "won", None),
    ("Will Hill and May Brown", ["P07", "P08"], "", None),
    ("Mrs Hill and Mr Brown led the trip", ["P07", "P08"], "led the trip", None),
    ("Miss Turner's class", ["P06"], "class", None),
    ("Well done Rose!", ["P06"], "Well done!", None),
    ("Thank you Will for helping", ["P07"], "Thank you for helping", {"P07": "Thank you Will for helping"}),
    ("Priya, Rose and May in the choir", ["P11", "P06", "P08"], "in the choir", None),
    ("May B. and Rose T. on stage", ["P08", "P06"], "on stage", None),
    ("R. Turner and W. Hill", ["P06", "P07"], "", None),
    ("Turner, Rose", ["P06"], "", None),
    ("#RoseTurner", ["P06"], "", None),
    ("#willhill", ["P07"], "", None),
    ("Grace Green and Jack Wood", ["P16", "P15"], "", None),
    ("Harry King, Y5", ["P27"], "Y5", None),
    ("Hope Marsh and Oliver Street", ["P09", "P10"], "", None),
    ("Ruby Black's model volcano", ["P24"], "model volcano", None),
    ("Sophie Ward, Noah Lee and Eve Ng", ["P28", "P21", "P29"], "", None),
    ("Rose's painting", ["P06"], None, None),
    ("rose turner won", ["P06"], "won", None),
    ("well done will hill and may rose brown", ["P07", "P08"], "well done", None),
    ("hill, will", ["P07"], "", None),
    ("thanks to mr marsh", ["P09"], "thanks", None),
    ("GRACE GREEN", ["P16"], "", None),
    ("Congratulations to May!", ["P08"], "Congratulations!", None),
    ("Hope and Will shared first prize", ["P09", "P07"], "shared first prize", None),
    ("Brown, May (Y6)", ["P08"], "(Y6)", None),
    ("THANKS TO ROSE AND WILL", ["P06", "P07"], "THANKS", None),
]

HARMLESS = [
    "Sports day is in May. Will it rain?",
    "The Rose Garden is open again",
    "Year 2 walked down Hope Street to the library",
    "A trip to see the Turner Prize exhibition",
    "Thank you to Smith & Sons for the new benches",
    "Year 3 drew hill forts",
    "We hope everyone will enjoy the summer fair",
    "Brown bread and green beans for the harvest festival",
    "The King's Coronation picnic",
    "Our new wood workshop opens in June",
    "Black History Month assembly",
    "Young Enterprise team at the market",
    "Grace before lunch, then the march to the park",
    "Mark your calendars: 12 May is open day",
    "Christmas Eve carol concert",
    "May Day dancing round the maypole",
    "Will you join us for the Street Party?",
    "Ward 7 at the hospital thanked our choir",
    "The Hill Top Café served hot chocolate",
    "Wood, metal and plastic: sorting for recycling",
    "A Brown Owl visited the Brownies",
    "Year 6 leavers' assembly, 21 July",
    "The Jack and the Beanstalk pantomime",
    "Stone Age day: flint, wood and bone",
    "Green Flag award for our eco-club",
    "Netball team wins the county cup!",
    "Pond dipping on a sunny afternoon",
    "Reception's first week: painting, sand and stories",
    "Parents' evening is on Tuesday",
    "Hill walking in the Peak District",
    "Clubs run from April to May",
    "Rose class planted bulbs; Hill class made bird boxes",
    "The hill will be steep, so bring boots",
    "VISIT THE ROSE GARDEN IN MAY",
]


def main() -> None:
    cases = []
    for caption, names, expect, kept in HOSTILE:
        case = {"caption": caption, "names": names}
        if expect is not None:
            case["expect"] = expect
        if kept:
            case["kept"] = [{"keep": [pid], "expect": text} for pid, text in kept.items()]
        cases.append(case)
    out = {"hostile": cases, "harmless": HARMLESS}
    path = Path(__file__).with_name("corpus.json")
    path.write_text(json.dumps(out, ensure_ascii=True, indent=1) + "\n", encoding="utf-8")
    print(f"{len(cases)} hostile, {len(HARMLESS)} harmless -> {path}")


if __name__ == "__main__":
    main()
