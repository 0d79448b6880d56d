from redactor.normalize import normalize


def test_ascii_is_returned_without_a_map() -> None:
    view = normalize("plain ascii 123")
    assert view.text == "plain ascii 123"
    assert view.source is None
    assert view.to_original(6, 11) == (6, 11)


def test_zero_width_characters_are_removed_and_mapped_back() -> None:
    text = "jo@\u200bex.org"
    view = normalize(text)
    assert view.text == "jo@ex.org"
    assert view.to_original(0, len(view.text)) == (0, len(text))
    assert view.to_original(3, 5) == (4, 6)


def test_unicode_dashes_fold_to_hyphen() -> None:
    view = normalize("219\u201009\u20129999 a\u2212b")
    assert view.text == "219-09-9999 a-b"


def test_full_width_digits_fold_by_nfkc() -> None:
    text = "card \uff14\uff11\uff11\uff11"
    view = normalize(text)
    assert view.text == "card 4111"
    assert view.to_original(5, 9) == (5, 9)


def test_expanding_characters_map_to_their_source() -> None:
    text = "\ufb01le x"  # the 'fi' ligature expands to two characters
    view = normalize(text)
    assert view.text == "file x"
    assert view.to_original(0, 4) == (0, 3)  # "file" is "\ufb01le" in the original
    assert view.to_original(5, 6) == (4, 5)


def test_non_ascii_text_that_needs_no_change_keeps_identity() -> None:
    view = normalize("Zoë Müller")
    assert view.text == "Zoë Müller"
    assert view.source is None
