"""Phone numbers as people write them: the forms accepted, the number kept, and how it is masked."""

from __future__ import annotations

import pytest

from gridgov.people.identity import IdentityError, mask_phone, parse_phone


@pytest.mark.parametrize("written, kept", [
    ("13800138000", "13800138000"), ("138 0013 8000", "13800138000"), ("138-0013-8000", "13800138000"),
    ("+86 138-0013-8000", "13800138000"), ("+86-13800138000", "13800138000"), ("（0731）28881234", "073128881234"),
    ("0731-28881234", "0731-28881234"), ("010 8888 6666", "01088886666"), ("", ""), ("  ", ""),
    # full width, as a Chinese input method types it: the same ASCII number
    ("１３８ ００１３ ８０００", "13800138000"), ("（０７３１）２８８８１２３４", "073128881234"),
    ("０７３１－２８８８１２３４", "0731-28881234"),
])
def test_accepted_forms(written, kept):
    assert parse_phone(written) == kept


@pytest.mark.parametrize("written", ["12345", "12800138000", "1380013800", "138001380000", "28881234", "0731-2888",
                                     "138-0013-800a", "免提电话", "١٣٨٠٠١٣٨٠٠٠"])
def test_refused_with_the_rule(written):
    with pytest.raises(IdentityError) as exc:
        parse_phone(written)
    assert "手机号" in exc.value.rule and "区号" in exc.value.rule


@pytest.mark.parametrize("phone, masked", [("13800138000", "138****8000"), ("0731-28881234", "0731-****1234"),
                                           ("073128881234", "0731****1234"), ("", "")])
def test_masked(phone, masked):
    assert mask_phone(phone) == masked
