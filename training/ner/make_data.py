"""Build the training data of redactor's NER model (``redactor_ner_sm``).

Two sources, both openly licensed, neither derived from presidio-evaluator:

* **WNUT-17 train** (``benchmarks/data/wnut17train.conll``, CC BY 4.0): real noisy user text.
  ``person`` -> PERSON, ``location`` -> GPE, ``corporation`` / ``group`` -> ORG; ``product``
  and ``creative-work`` spans are marked *missing* (neither entity nor O), so the model is
  not taught anything about them.
* **Ticket-style sentences written for this project** (the templates below), filled with
  values from the Faker package (MIT) in many locales: person names, cities, countries,
  companies and street addresses (label ADDRESS). Sentences without any entity, including
  capitalised headings and product words, teach the model what is *not* a name.

Case augmentation: a share of all sentences is added again in lower case and in upper case,
since ticket text often loses its capitals.

Output: ``train.jsonl``, ``dev_synth.jsonl`` and ``dev_wnut.jsonl`` in ``--out`` (one ``{"text", "spans"}`` per line,
spans as ``[start, end, label]`` with ``label`` ``"-"`` for a missing span). Deterministic for
a given ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from faker import Faker

ROOT = Path(__file__).resolve().parents[2]
WNUT_TRAIN = ROOT / "benchmarks" / "data" / "wnut17train.conll"

LOCALES = ["en_US", "en_GB", "en_AU", "en_CA", "en_IE", "en_NZ", "en_IN", "de_DE", "de_AT",
           "de_CH", "fr_FR", "fr_CH", "es_ES", "es_MX", "es_AR", "it_IT", "nl_NL", "nl_BE",
           "pt_BR", "pt_PT", "da_DK", "fi_FI", "sv_SE", "no_NO", "pl_PL", "cs_CZ", "sk_SK",
           "hu_HU", "ro_RO", "hr_HR", "sl_SI", "et_EE", "lv_LV", "lt_LT", "el_GR", "tr_TR",
           "uk_UA", "ru_RU", "bg_BG", "ja_JP", "zh_CN", "ko_KR", "id_ID", "vi_VN", "th_TH",
           "fil_PH", "he_IL", "ar_AA", "fa_IR", "hi_IN", "bn_BD", "ka_GE", "hy_AM", "az_AZ"]
# Locales whose names and places are written in Latin script get most of the weight.
LATIN = [loc for loc in LOCALES if loc.split("_")[0] not in
         {"el", "uk", "ru", "bg", "ja", "zh", "ko", "th", "he", "ar", "fa", "hi", "bn", "ka", "hy"}]

TITLES = ["Mr.", "Mrs.", "Ms.", "Dr.", "Miss", "Mr", "Mrs", "Ms", "Dr", "Prof.", "Sir"]

# Ticket and chat sentences written for redactor. Slots: {PER} {FIRST} {LAST} {GPE} {CITY}
# {COUNTRY} {ADDR} {ADDR1} {ORG} (entities) and {EMAIL} {PHONE} {NUM} {DATE} {PRODUCT} (not).
TEMPLATES = r"""\
Hi {FIRST}, thanks for getting back to us about order {NUM}.
Hello {FIRST},\nI have escalated your ticket to the billing team.
Dear {PER},\nYour refund for invoice {NUM} has been processed.
Customer {PER} called from {CITY} about a double charge.
Please ship the replacement to {ADDR}.
Ship to:\n{PER}\n{ADDR}
Billing address:\n{PER}\n{ADDR}\n{COUNTRY}
The new delivery address is {ADDR1}, {CITY}.
{PER} ({EMAIL}) says the parcel never arrived in {CITY}.
Spoke with {FIRST} today, she is moving to {COUNTRY} next month.
Regards,\n{PER}\n{ORG}
Best,\n{FIRST}
Thanks,\n{PER}\n{ORG}\n{ADDR}\nTel: {PHONE}
Kind regards\n{PER}\nCustomer Success, {ORG}
{PER} <{EMAIL}> wrote: the app crashes when I open settings.
From: {PER} <{EMAIL}>\nSubject: Cannot log in
Name: {PER}\nAddress: {ADDR}\nPhone: {PHONE}
Account holder: {PER}
The card belongs to {PER}, not to me.
Can you update the name on my account to {PER}?
My husband {FIRST} will pick up the package.
I am writing on behalf of my mother, {PER}.
Assigned to {FIRST} {LAST} from the {CITY} office.
{FIRST} {LAST} left a voicemail at {PHONE}.
We have a new customer in {CITY}, {COUNTRY}.
The technician will visit {ADDR1} on {DATE}.
Our warehouse in {CITY} is closed for the holidays.
I live in {CITY} and the store here does not stock {PRODUCT}.
Our office moved to {ADDR1}, {CITY}.
Please send the documents to {ADDR}, attention {PER}.
{PER} is travelling to {GPE} and needs a new card before {DATE}.
Flight to {CITY} was cancelled, please rebook {PER}.
I ordered the {PRODUCT} on {DATE} and it still has not shipped.
Escalating to {FIRST} in tier 2.
cc {PER}, {PER}
Forwarding to {FIRST} and {FIRST} for review.
The contract was signed by {PER} of {ORG}.
{ORG} wants to add {PER} as an admin user.
Our contact at {ORG} is {PER}.
Meeting with {PER} at {ADDR1} tomorrow.
The courier left the box at {ADDR1} instead of my flat.
He was born in {CITY} and now lives in {COUNTRY}.
My landlord {PER} needs a copy of the receipt.
Hi team, {FIRST} here from {CITY}.
Hey {FIRST}! Any update on this?
Thank you {FIRST}, that fixed it.
Welcome aboard, {PER}!
{LAST} family, {ADDR}
Please correct the spelling of my name, it is {PER}.
Attn: {PER}, {ORG}, {ADDR1}, {CITY}
The event takes place in {CITY} on {DATE}.
Where is your nearest branch to {CITY}?
Is delivery to {COUNTRY} possible?
We are based in {GPE}.
I just moved from {GPE} to {GPE}.
Reported by {PER} via chat.
Caller: {PER}, callback number {PHONE}
Patient {PER} was seen on {DATE}.
Emergency contact: {PER} ({PHONE})
User {FIRST} reports that the export to {PRODUCT} fails.
Per {FIRST}'s note, the refund is approved.
{PER} wrote a review about the {PRODUCT}.
I met {FIRST} at the {CITY} conference.
Please call me back, {PER}, {PHONE}.
Return address: {ADDR}
Sender: {PER}, {ADDR1}, {CITY}, {COUNTRY}
""".splitlines()

NEGATIVES = """\
The printer on floor 3 keeps jamming.
Please reset my password, the link expired.
Attached the INTRODUCTORY GUIDE plus forms H1 and B43; the policy is public.
event_ts=1748501234507 batch=7 status=ok
Error 500 when saving the form. Retry did not help.
What are my options?
Could I change the payment due date?
How do I export my data to CSV?
Your ticket has been closed. Reply to reopen it.
The Quick Start Guide says to restart the router first.
Invoice 88 was paid on Monday.
Thanks for the fast reply!
This is URGENT, the Dashboard is down again.
Release Notes: Improved Search and Faster Sync.
The Terms of Service were updated last week.
I upgraded to the Premium Plan but still see ads.
Monthly Report attached. Please review before Friday.
NEW FEATURE REQUEST: DARK MODE FOR THE MOBILE APP
Customer Satisfaction Survey results are in.
Order status: shipped. Tracking number follows by email.
The Settings page shows a blank screen in Safari.
Please cancel my subscription at the end of the month.
Refund approved for 2 items, the third is out of stock.
Can I speak to a real person?
My card expires soon, when will I get a new one?
We need the Admin Console to support Single Sign-On.
Hello, is anyone there?
The API returns 401 Unauthorized since this morning.
Happy New Year from the Support Team!
Step 1: Open Preferences. Step 2: Click Privacy.
""".splitlines()

PRODUCTS = ["Pro plan", "mobile app", "router", "smart watch", "Premium subscription", "headphones",
            "desktop client", "gift card", "dishwasher", "standing desk", "Excel add-in", "API"]


class Filler:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.fakers = {loc: Faker(loc) for loc in LOCALES}
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(rng.randrange(1 << 30) + i)
        self.en = self.fakers["en_US"]

    def faker(self) -> Faker:
        pool = LATIN if self.rng.random() < 0.85 else LOCALES
        return self.fakers[self.rng.choice(pool)]

    def person(self) -> str:
        f, r = self.faker(), self.rng.random()
        first, last = f.first_name(), f.last_name()
        if r < 0.55:
            return f"{first} {last}"
        if r < 0.7:
            return f"{first} {self.rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
        if r < 0.8:
            return f"{first} {self.rng.choice('ABCDEFGHJKLMNPRSTW')} {last}"
        if r < 0.9:
            return f"{first} {f.first_name()} {last}" if self.rng.random() < 0.5 else f"{first} {last}-{f.last_name()}"
        return last if self.rng.random() < 0.5 else first

    def address(self, one_line: bool = False) -> str:
        f = self.faker()
        try:
            addr = f.street_address() if one_line else f.address()
        except AttributeError:
            addr = self.en.street_address() if one_line else self.en.address()
        if not one_line and self.rng.random() < 0.35:
            addr += ("\n" if self.rng.random() < 0.6 else ", ") + f.current_country()
        if not one_line and self.rng.random() < 0.3:
            addr = addr.replace("\n", ", ")
        return addr

    def city(self) -> str:
        f = self.faker()
        try:
            return f.city()
        except AttributeError:
            return self.en.city()

    def fill(self, template: str) -> tuple[str, list[tuple[int, int, str]]]:
        text, spans, pos = "", [], 0
        for m in re.finditer(r"\{(\w+)\}", template):
            text += template[pos:m.start()]
            slot = m.group(1)
            label, value = self.value(slot)
            if label and spans and spans[-1][2] == label == "PERSON" and spans[-1][1] == len(text) - 1 \
                    and text.endswith(" "):
                spans[-1] = (spans[-1][0], len(text) + len(value), label)  # {FIRST} {LAST}
            elif label:
                spans.append((len(text), len(text) + len(value), label))
            text += value
            pos = m.end()
        text += template[pos:]
        return text, spans

    def call(self, f: Faker, attr: str) -> str:
        try:
            return str(getattr(f, attr)())
        except AttributeError:
            return str(getattr(self.en, attr)())

    def value(self, slot: str) -> tuple[str | None, str]:
        f, rng = self.faker(), self.rng
        if slot == "PER":
            return "PERSON", self.person()
        if slot == "FIRST":
            return "PERSON", self.call(f, "first_name")
        if slot == "LAST":
            return "PERSON", self.call(f, "last_name")
        if slot == "CITY":
            return "GPE", self.city()
        if slot == "COUNTRY":
            return "GPE", self.en.country()
        if slot == "GPE":
            return "GPE", self.city() if rng.random() < 0.6 else self.en.country()
        if slot == "ADDR":
            return "ADDRESS", self.address()
        if slot == "ADDR1":
            return "ADDRESS", self.address(one_line=True)
        if slot == "ORG":
            return "ORG", self.call(f, "company")
        if slot == "EMAIL":
            return None, self.en.email()
        if slot == "PHONE":
            return None, self.call(f, "phone_number")
        if slot == "NUM":
            return None, str(rng.randrange(10, 999999))
        if slot == "DATE":
            return None, rng.choice([self.en.date(), self.en.day_of_week(), self.en.month_name() + " " + str(rng.randrange(1, 29))])
        if slot == "PRODUCT":
            return None, rng.choice(PRODUCTS)
        raise KeyError(slot)


def with_titles(text: str, spans: list[tuple[int, int, str]], rng: random.Random) -> tuple[str, list]:
    """Put an honorific before some PERSON spans (outside the span, as in OntoNotes)."""
    out, shift, new_spans = text, 0, []
    for s, e, label in sorted(spans):
        s, e = s + shift, e + shift
        if label == "PERSON" and " " in out[s:e] and rng.random() < 0.15:
            title = rng.choice(TITLES) + " "
            out = out[:s] + title + out[s:]
            shift += len(title)
            s, e = s + len(title), e + len(title)
        new_spans.append((s, e, label))
    return out, new_spans


def read_wnut(path: Path) -> list[tuple[str, list]]:
    mapping = {"person": "PERSON", "location": "GPE", "corporation": "ORG", "group": "ORG",
               "product": "-", "creative-work": "-"}
    docs, tokens, tags = [], [], []

    def flush() -> None:
        if not tokens:
            return
        text, spans, pos, cur = "", [], 0, None
        for tok, tag in zip(tokens, tags):
            if text:
                text += " "
            start = len(text)
            text += tok
            if tag.startswith("B-") or (tag.startswith("I-") and cur is None):
                cur = [start, len(text), mapping[tag[2:]]]
                spans.append(cur)
            elif tag.startswith("I-") and cur is not None:
                cur[1] = len(text)
            else:
                cur = None
        docs.append((text, [tuple(s) for s in spans]))
        tokens.clear()
        tags.clear()

    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            flush()
            continue
        tok, tag = line.split("\t")
        tok = tok.replace("\ufeff", "")
        if tok:
            tokens.append(tok)
            tags.append(tag)
    flush()
    return docs


def augment_case(docs: list, rng: random.Random, lower: float, upper: float) -> list:
    out = []
    for text, spans in docs:
        if rng.random() < lower:
            out.append((text.lower(), spans))
        if rng.random() < upper:
            out.append((text.upper(), spans))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--synthetic", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--wnut-copies", type=int, default=2, help="times WNUT-17 train is repeated")
    ap.add_argument("--lower", type=float, default=0.25, help="share added again in lower case")
    ap.add_argument("--upper", type=float, default=0.08, help="share added again in upper case")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    filler = Filler(rng)
    synth = []
    for _ in range(args.synthetic):
        if rng.random() < 0.12:
            synth.append((rng.choice(NEGATIVES), []))
            continue
        text, spans = filler.fill(rng.choice(TEMPLATES).replace("\\n", "\n"))
        synth.append(with_titles(text, spans, rng))
    wnut = read_wnut(WNUT_TRAIN)
    rng.shuffle(wnut)
    dev_synth, dev_wnut = synth[:400], wnut[:300]
    train = synth[400:] + wnut[300:] * args.wnut_copies  # real text weighs more
    train += augment_case(train, rng, lower=args.lower, upper=args.upper)
    rng.shuffle(train)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, docs in (("train", train), ("dev_synth", dev_synth), ("dev_wnut", dev_wnut)):
        with (args.out / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for text, spans in docs:
                fh.write(json.dumps({"text": text, "spans": spans}, ensure_ascii=False) + "\n")
    print(f"train {len(train)} dev {len(dev_synth)} + {len(dev_wnut)}")


if __name__ == "__main__":
    main()
