"""Differential test of einjit's .npy reader against numpy's np.load.

Usage: check-headers.py EINSUM_RUN WORKDIR

Each case is a hand-made .npy file. The table records what numpy does with
it (np.load accepts or rejects it) and what einjit must do, which is the same
except in the few cases marked as einjit being stricter. For every case the
script checks both: numpy's verdict (so the table stays a record of numpy's
behaviour) and einsum-run's ('...->...' FILE -o OUT). Where both accept,
einjit's result must equal numpy's array element for element; where einjit
rejects, its message must be one line that names the file, without control
bytes, and contain the expected text. Ends with 'N cases, 0 failed'.
"""

import os
import struct
import subprocess
import sys
import warnings

import numpy as np

EINSUM_RUN, WORKDIR = sys.argv[1], sys.argv[2]
os.makedirs(WORKDIR, exist_ok=True)
warnings.simplefilter("ignore")

OK, ERR = "accepts", "rejects"
SUPPORTED = ("(einjit reads bool, ints and uints of 1 to 8 bytes, f2, f4, "
             "f8, c8, c16, and V2 as bfloat16)")


def npy(header, version=(1, 0), data=None, pad=True):
    """A .npy file: magic, version, length, header (padded as numpy pads
    it), data (by default 4096 bytes that read as finite numbers)."""
    if isinstance(header, str):
        header = header.encode("utf-8" if version == (3, 0) else "latin-1")
    fmt = "<H" if version[0] == 1 else "<I"
    if pad:
        total = 8 + struct.calcsize(fmt) + len(header) + 1
        header += b" " * ((64 - total % 64) % 64) + b"\n"
    if data is None:
        data = bytes(0x40 + i % 7 for i in range(4096))
    return (b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(header)) +
            header + data)


def dict_(shape="(2, 3)", descr="'<f4'", fortran="False"):
    return ("{'descr': %s, 'fortran_order': %s, 'shape': %s, }" %
            (descr, fortran, shape))


# (label, file bytes, numpy's verdict, einjit's verdict, text in einjit's
# message when it rejects)
CASES = []


def case(label, data, numpy, einjit=None, message=""):
    CASES.append((label, data, numpy, einjit or numpy, message))


# The shape: Python tuple syntax, ints only.
for shape, verdict, message in [
    ("()", OK, ""),
    ("(3,)", OK, ""),
    ("(2, 3)", OK, ""),
    ("(2, 3,)", OK, ""),
    ("( )", OK, ""),
    ("(2,3)", OK, ""),
    ("(\n2,\n3\n)", OK, ""),
    ("(0, 3)", OK, ""),
    ("(3, 0)", OK, ""),
    ("(-0,)", OK, ""),
    ("(+3,)", OK, ""),
    ("(0x3,)", OK, ""),
    ("(0o3, 0b1)", OK, ""),
    ("(0X3, 0O3, 0B1)", OK, ""),
    ("(0x_3,)", OK, ""),
    ("(1_0,)", OK, ""),
    ("(00,)", OK, ""),
    ("(0_0,)", OK, ""),
    ("((3),)", OK, ""),
    ("((2,3))", OK, ""),
    ("(((2, 3)))", OK, ""),
    ("(-(0),)", OK, ""),
    ("(2, 3 # a comment\n)", OK, ""),
    ("(3#c\n,)", OK, ""),
    ("(3 \\\n,)", OK, ""),
    ("(3L,)", OK, ""),  # a Python 2 long: numpy drops the 'L' in 1.0/2.0
    ("(3 L,)", OK, ""),
    ("(0x3L,)", OK, ""),
    ("(3\\\nL,)", OK, ""),
    ("3", ERR, "'shape' is not a tuple of ints: 3"),
    ("(3)", ERR, "'shape' is not a tuple of ints: 3"),
    ("[3]", ERR, "'shape' is not a tuple of ints: [3]"),
    ("(1,,3)", ERR, "expected a value, found ','"),
    ("(,)", ERR, "expected a value, found ','"),
    ("(3,,)", ERR, "expected a value, found ','"),
    ("((3,),)", ERR, "'shape' is not a tuple of ints: ((3,),)"),
    ("(-1,)", ERR, "negative dimension -1 in the shape (-1,)"),
    ("(2, -3)", ERR, "negative dimension -3"),
    ("(-(3),)", ERR, "negative dimension -(3)"),
    ("(- 3,)", ERR, "negative dimension - 3"),
    ("(--3,)", ERR, "expected a value, found '-'"),
    ("(-True,)", ERR, "a sign before 'True'"),
    ("(~3,)", ERR, "expected a value, found '~'"),
    ("(True, 2)", ERR, "'shape' is not a tuple of ints"),
    ("(False,)", ERR, "'shape' is not a tuple of ints"),
    ("(None,)", ERR, "'shape' is not a tuple of ints"),
    ("(3.0,)", ERR, "'shape' is not a tuple of ints: (3.0,)"),
    ("(3.,)", ERR, "'shape' is not a tuple of ints"),
    ("(1e0,)", ERR, "'shape' is not a tuple of ints"),
    ("(3j,)", ERR, "'shape' is not a tuple of ints"),
    ("(1+0j,)", ERR, "'shape' is not a tuple of ints"),
    ("('3',)", ERR, "'shape' is not a tuple of ints"),
    ("(03,)", ERR, "leading zeros in the integer '03'"),
    ("(0_3,)", ERR, "leading zeros"),
    ("(1_,)", ERR, "invalid number '1_'"),
    ("(1__0,)", ERR, "invalid number '1__0'"),
    ("(0x,)", ERR, "invalid number '0x'"),
    ("(0b2,)", ERR, "invalid number '0b2'"),
    ("(0o8,)", ERR, "invalid number '0o8'"),
    ("(3if,)", ERR, "invalid number '3if'"),
    ("(3l,)", ERR, "invalid number '3l'"),
    ("(3LL,)", ERR, "invalid number '3LL'"),
    ("(3\nL,)", ERR, "expected ',' or ')', found 'L'"),
    ("(3#c\nL,)", ERR, "expected ',' or ')', found 'L'"),
    ("(1,)*64", ERR, "found '*'"),
    ("(1, 2", ERR, "expected a value, found '}'"),
    ("(1, 2]", ERR, "expected ',' or ')', found ']'"),
    ("(4611686018427387904, 0)", ERR,
     "the array f32(4611686018427387904,0) is too large"),
    ("(0, 4611686018427387904)", ERR, "is too large"),
    ("(4611686018427387904,)", ERR, "is too large"),
    ("(9223372036854775807,)", ERR, "is too large"),
    ("(9223372036854775808,)", ERR,
     "dimension 9223372036854775808 does not fit in 64 bits"),
    ("(0, 99999999999999999999999)", ERR, "does not fit in 64 bits"),
    ("(0x10000000000000000,)", ERR, "does not fit in 64 bits"),
    ("(-99999999999999999999999,)", ERR, "negative dimension"),
    ("(" + "1," * 64 + ")", OK, ""),
    ("(" + "1," * 65 + ")", ERR, "the array has rank 65; einjit's limit is 64"),
    ("(" + "0," * 1000 + ")", ERR, "the array has rank 1000"),
    ("(4, 6)", ERR, "truncated data: shape needs 96 bytes but the file holds"),
]:
    data = None
    if "truncated" in message:
        data = bytes(0x40 for _ in range(95))
    case("shape " + repr(shape), npy(dict_(shape), data=data), verdict,
         message=message)

# Sizes at numpy's 2^63 - 1 bytes and einjit's 2^62 (Limits.h): only
# zero-size arrays get there.
for shape, descr, numpy_verdict, einjit_verdict in [
    ((2**60, 0), "<f4", OK, OK),        # 2^62 bytes
    ((2**61, 0), "<f2", OK, OK),        # 2^62 bytes
    ((2**61 - 1, 0), "<f4", OK, ERR),   # 2^63 - 4: numpy only
    ((2**62 - 1, 0), "<f2", OK, ERR),   # 2^63 - 2: numpy only
    ((2**61, 0), "<f4", ERR, ERR),      # 2^63
    ((2**60, 0), "<i8", ERR, ERR),      # 2^63
    ((0, 2**62), "<f2", ERR, ERR),
]:
    case("size %s %s" % (shape, descr),
         npy(dict_(repr(shape), repr(descr)), data=b""), numpy_verdict,
         einjit_verdict, "" if einjit_verdict == OK else "is too large")

# The dict: keys, quoting, separators, duplicates.
D = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"
for header, verdict, message in [
    (D, OK, ""),
    ('{"descr": "<f4", "fortran_order": False, "shape": (2, 3)}', OK, ""),
    ("{'descr':'<f4','fortran_order':False,'shape':(2,3),}", OK, ""),
    ("{'shape': (2, 3), 'descr': '<f4', 'fortran_order': False}", OK, ""),
    ("{\n 'descr': '<f4',\n 'fortran_order': False,\n 'shape': (2, 3),\n}",
     OK, ""),
    ("{'descr':\t'<f4',\f'fortran_order':False,'shape':(2,3)}", OK, ""),
    ("{'descr': '<f4',#c\n 'fortran_order': False, 'shape': (2, 3)}", OK, ""),
    ("{'descr': '<f4', \\\n'fortran_order': False, 'shape': (2, 3)}", OK, ""),
    ("{'descr':\r'<f4', 'fortran_order': False, 'shape': (2, 3)}", OK, ""),
    ("{'descr':\r\n'<f4', 'fortran_order': False, 'shape': (2, 3)}", OK, ""),
    ("{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': '<f4', 'fortran_order': True, 'fortran_order': False, "
     "'shape': (9,), 'shape': (2, 3)}", OK, ""),
    ("{'descr': [('a', '<f4')], 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': {1: (2, [3]), 4: {5}}, 'descr': '<f4', "
     "'fortran_order': False, 'shape': (2, 3)}", OK, ""),
    ("{'descr': set(), 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': set( ), 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': ..., 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': None, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': 1.5e-3, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': .5, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': 0777.5, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': 1+2j, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': -1.5-2j, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': (1)+(2j), 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': {(1, (2,)): 3}, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': b'x', 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", OK, ""),
    ("{'descr': 1+2j+3j, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "expected ',' or '}', found '+'"),
    ("{'descr': 2j+1, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "only a real number plus an imaginary number"),
    ("{'descr': 1+-2j, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "'-2j' is not an imaginary number"),
    ("{'descr': 1+2, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "'2' is not an imaginary number"),
    ("{'descr': True+1j, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "only a real number plus an imaginary number"),
    ("{'descr': set(()), 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "unexpected name 'set'"),
    ("{'descr': {[1]: 2}, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "unhashable key '[1]'"),
    ("{'descr': {(1, [2]): 3}, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "unhashable key"),
    ("{'descr': {1, {2: 3}}, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "unhashable element"),
    ("{'descr': [{[]}], 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "unhashable element '[]'"),
    ("{'descr': {1: 2, 3}, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "expected ':' after a dict key"),
    ("{'descr': {1, 2: 3}, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "expected ',' or '}', found ':'"),
    ("{'descr': [,], 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "expected a value, found ','"),
    ("{'descr': Ellipsis, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "unexpected name 'Ellipsis'"),
    ("{'descr': x, 'descr': '<f4', 'fortran_order': False, "
     "'shape': (2, 3)}", ERR, "unexpected name 'x'"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3),,}", ERR,
     "expected a value, found ','"),
    ("{,}", ERR, "expected a value, found ','"),
    ("{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}", ERR,
     "expected ',' or '}', found ':'"),
    ("{'descr': '<f4', 'fortran_order': False 'shape': (2, 3)}", ERR,
     "expected ',' or '}', found '\\''"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) "
     "'shape': (2, 3)}", ERR, "expected ',' or '}'"),
    ("{'descr': '<f4', 'fortran_order': False}", ERR, "no 'shape' key"),
    ("{'fortran_order': False, 'shape': (2, 3)}", ERR, "no 'descr' key"),
    ("{'descr': '<f4', 'shape': (2, 3)}", ERR, "no 'fortran_order' key"),
    ("{}", ERR, "no 'descr' key"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}",
     ERR, "unexpected key 'x'"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
     "'x': set()}", ERR, "unexpected key 'x'"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 1: 2}", ERR,
     "unexpected key 1"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), (1,): 2}",
     ERR, "unexpected key (1,)"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), []: 1}",
     ERR, "unhashable key '[]'"),
    ("{'Descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", ERR,
     "unexpected key 'Descr'"),
    ("{'descr ': '<f4', 'fortran_order': False, 'shape': (2, 3)}", ERR,
     "unexpected key 'descr '"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), **{}}", ERR,
     "expected a value, found '*'"),
    ("{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}", ERR,
     "unexpected name 'descr'"),
    ("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", ERR,
     "'fortran_order' is neither True nor False: 0"),
    ("{'descr': '<f4', 'fortran_order': None, 'shape': (2, 3)}", ERR,
     "'fortran_order' is neither True nor False: None"),
    ("{'descr': '<f4', 'fortran_order': 'False', 'shape': (2, 3)}", ERR,
     "'fortran_order' is neither True nor False"),
    ("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}", ERR,
     "unexpected name 'false'"),
    ("{'descr': '<f4', 'fortran_order': (False), 'shape': (2, 3)}", OK, ""),
    ("{'descr': '<f4', 'fortran_order': (False,), 'shape': (2, 3)}", ERR,
     "'fortran_order' is neither True nor False: (False,)"),
    ("({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)})", OK, ""),
    ("(({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}))", OK, ""),
    ("({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)},)", ERR,
     "not a dict: ({'descr'"),
    (D + ",", ERR, "unexpected ',' after the header dict"),
    ("[" + D + "]", ERR, "not a dict"),
    ("{'descr', 'fortran_order', 'shape'}", ERR, "not a dict"),
    ("'descr'", ERR, "not a dict"),
    ("3", ERR, "not a dict: 3"),
    ("", ERR, "the header is empty"),
    ("# only a comment", ERR, "the header is empty"),
    (D[:-1], ERR, "expected ',' or '}', found the end of the header"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", ERR,
     "expected ',' or '}'"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)]", ERR,
     "expected ',' or '}', found ']'"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3]}", ERR,
     "expected ',' or ')', found ']'"),
    # Leading and trailing whitespace, comments, blank lines.
    (" " + D, OK, ""),
    ("\t" + D, OK, ""),
    ("\f" + D, OK, ""),
    ("\n" + D, OK, ""),
    ("\n\n" + D, OK, ""),
    (" \n" + D, OK, ""),
    ("\t\n\t\n" + D, OK, ""),
    ("#c\n" + D, OK, ""),
    (" #c\n" + D, OK, ""),
    ("\n\f" + D, OK, ""),
    ("\\\n" + D, OK, ""),
    (" \\\n" + D, OK, ""),
    ("\r\n" + D, OK, ""),
    ("\r" + D, OK, ""),
    ("\n " + D, ERR, "unexpected indentation before the header dict"),
    ("\n\t" + D, ERR, "unexpected indentation"),
    ("\f\n " + D, ERR, "unexpected indentation"),
    ("\n\f " + D, ERR, "unexpected indentation"),
    ("\\\n " + D, ERR, "unexpected indentation"),
    ("\r " + D, ERR, "unexpected indentation"),
    (D + " # c", OK, ""),
    (D + "\n\n\n", OK, ""),
    (D + "\t", OK, ""),
    (D + "\f", OK, ""),
    (D + "\r", OK, ""),
    (D + "\r\r", OK, ""),
    (D + "  \n  ", OK, ""),
    (D + "\n#c\n", OK, ""),
    (D + " \\\n", OK, ""),
    (D + "\\\n\\\n", OK, ""),
    (D + "\\\n#c", OK, ""),
    (D + " x", ERR, "unexpected 'x' after the header dict"),
    (D + "\n  x", ERR, "unexpected 'x' after the header dict"),
    (D + " \\", ERR, "unexpected '\\\\' after the header dict"),
    (D + "\n\\", ERR, "unexpected '\\\\' after the header dict"),
    (D + "#\\\nx", ERR, "unexpected 'x' after the header dict"),
    (D + "}", ERR, "unexpected '}' after the header dict"),
    (D + "\n)", ERR, "unexpected ')' after the header dict"),
    (D + " + 1j", ERR, "only a real number plus an imaginary number"),
    (D + "['descr']", ERR, "unexpected '[' after the header dict"),
    (D + ".keys()", ERR, "unexpected '.' after the header dict"),
    # Characters Python does not take as whitespace.
    ("{'descr':\v'<f4', 'fortran_order': False, 'shape': (2, 3)}", ERR,
     "expected a value, found '\\x0b'"),
    (b"{'descr':\xa0'<f4', 'fortran_order': False, 'shape': (2, 3)}", ERR,
     "unexpected name '\\xa0'"),
    (b"{'descr':\x00'<f4', 'fortran_order': False, 'shape': (2, 3)}", ERR,
     "corrupt header: it holds a NUL byte"),
    (D.encode() + b"\x00", ERR, "it holds a NUL byte"),
    (b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} #\xff", OK,
     ""),
    (b"\xef\xbb\xbf" + D.encode(), ERR, "unexpected name '\\xef"),
]:
    case("dict " + repr(header)[:70], npy(header), verdict, message=message)

# Strings: prefixes, escapes, concatenation.
for key, verdict, message in [
    ("'des' 'cr'", OK, ""),
    ("'des'  \"cr\"", OK, ""),
    ("('des'\n'cr')", OK, ""),
    ("u'descr'", OK, ""),
    ("U'descr'", OK, ""),
    ("r'descr'", OK, ""),
    ("R'descr'", OK, ""),
    ("'''descr'''", OK, ""),
    ('"""descr"""', OK, ""),
    ("'''des\\\ncr'''", OK, ""),
    ("'\\x64escr'", OK, ""),
    ("'\\144escr'", OK, ""),
    ("'\\u0064escr'", OK, ""),
    ("'\\U00000064escr'", OK, ""),
    ("'de\\\nscr'", OK, ""),
    ("'de\\\r\nscr'", OK, ""),
    ("'de\\\rscr'", OK, ""),
    ("'des\\cr'", ERR, "unexpected key 'des\\\\cr'"),
    ("r'de\\x73cr'", ERR, "unexpected key 'de\\\\x73cr'"),
    ("'de\\x7'", ERR, "truncated \\x escape"),
    ("'\\u006'", ERR, "truncated \\u escape"),
    ("'\\U00110000'", ERR, "beyond U+10FFFF"),
    ("'de\nscr'", ERR, "unterminated string"),
    ("'de\rscr'", ERR, "unterminated string"),
    ("'''de\rscr'''", ERR, "unexpected key 'de\\nscr'"),
    ("'''descr''", ERR, "unterminated string"),
    ("b'descr'", ERR, "unexpected key b'descr'"),
    ("rb'descr'", ERR, "unexpected key"),
    ("BR'descr'", ERR, "unexpected key"),
    ("f'descr'", ERR, "f-strings are not literals"),
    ("rf'descr'", ERR, "f-strings are not literals"),
    ("'des' f'cr'", ERR, "f-strings are not literals"),
    ("ur'descr'", ERR, "unexpected name 'ur'"),
    ("bu'descr'", ERR, "unexpected name 'bu'"),
    ("'des' b'cr'", ERR, "bytes and str literals joined"),
    ("b'\\xe9'", ERR, "unexpected key"),
    ("'descr\\x00'", ERR, "unexpected key 'descr\\x00'"),
    ("'descr\\n'", ERR, "unexpected key 'descr\\n'"),
    ("'\\x1b[31mred'", ERR, "unexpected key '\\x1b[31mred'"),
]:
    header = "{%s: '<f4', 'fortran_order': False, 'shape': (2, 3)}" % key
    case("key " + repr(key), npy(header), verdict, message=message)
for tail in ["'x", "'x\\'", "'''x''"]:
    case("unterminated %r at the end" % tail, npy(D[:-1] + ", " + tail), ERR,
         message="unterminated string")
case("key b'\\xe9' (raw byte in bytes)",
     npy(b"{'descr': b'\xe9', 'descr': '<f4', 'fortran_order': False, "
         b"'shape': (2, 3)}"), ERR, message="a bytes literal holds a non-ASCII")
# numpy decodes \N{...} with the Unicode database; einjit refuses it.
case("key with \\N{...}",
     npy("{'\\N{LATIN SMALL LETTER D}escr': '<f4', 'fortran_order': False, "
         "'shape': (2, 3)}"), OK, ERR, "\\N{...} escape")
# numpy takes an indented first line after a form feed; einjit does not.
case("form feed then indentation", npy("\f " + D), OK, ERR,
     "unexpected indentation")

# Brackets nested deep. Python stops near 200 levels; einjit at 100.
for depth, numpy_verdict, einjit_verdict in [(98, OK, OK), (99, OK, OK),
                                             (100, OK, ERR), (150, OK, ERR),
                                             (200, ERR, ERR)]:
    header = ("{'descr': " + "[" * depth + "]" * depth +
              ", 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}")
    case("nested %d deep" % (depth + 1), npy(header), numpy_verdict,
         einjit_verdict, "brackets nest more than 100 deep")
case("nested shape", npy(dict_("(" * 99 + "2, 3" + ")" * 99)), OK)

# descr: the dtypes einjit reads, in numpy's spellings.
for descr, numpy_verdict, einjit_verdict in [
    ("<f4", OK, OK), (">f4", OK, OK), ("=f4", OK, OK), ("|f4", OK, OK),
    ("f4", OK, OK), ("<f2", OK, OK), (">f2", OK, OK), ("|f2", OK, OK),
    ("<f8", OK, OK), (">f8", OK, OK), ("<i4", OK, OK), (">i4", OK, OK),
    ("=i4", OK, OK), ("<i8", OK, OK), (">i8", OK, OK), ("|i8", OK, OK),
    ("i8", OK, OK),
    ("<u4", OK, OK), ("|u1", OK, OK), ("|i1", OK, OK), ("<i2", OK, OK),
    (">u2", OK, OK), ("<u8", OK, OK), ("|i1", OK, OK),
    # ml_dtypes' bfloat16, as np.save writes it.
    ("<V2", OK, OK), ("|V2", OK, OK),
    ("<c8", OK, OK), (">c16", OK, OK),
    # Dtypes einjit does not read.
    ("<f16", OK, ERR),
    ("<M8[s]", OK, ERR), ("<m8[ns]", OK, ERR), ("<U3", OK, ERR),
    ("|S3", OK, ERR), ("|V4", OK, ERR), ("<f4,<f4", OK, ERR),
    # Other spellings of einjit's dtypes.
    ("float32", OK, ERR), ("f", OK, ERR), ("d", OK, ERR), ("<d", OK, ERR),
    ("<i", OK, ERR), ("int64", OK, ERR),
    # Not dtypes at all.
    ("O", ERR, ERR), ("<f4 ", ERR, ERR), (" <f4", ERR, ERR), ("<q4", ERR, ERR),
    ("", ERR, ERR), ("<", ERR, ERR), ("<f3", ERR, ERR), ("<<f4", ERR, ERR),
]:
    case("descr %r" % descr, npy(dict_("(2, 3)", repr(descr))), numpy_verdict,
         einjit_verdict, "unsupported dtype %s %s" % (repr(descr), SUPPORTED))
# Bools of 0 and 1 (einjit reads any other byte as 1, where numpy keeps
# the byte).
case("descr '|b1'", npy(dict_("(2, 3)", "'|b1'"), data=bytes([0, 1, 1, 0, 1, 0])),
     OK, OK)
for descr, numpy_verdict in [
    ("[('a', '<f4')]", OK),
    ("[('a', '<f4'), ('b', '<i8')]", OK),
    ("('<f4', (2,))", ERR),  # numpy fails reading its data
    ("None", ERR),
    ("3", ERR),
    ("[1, 2]", ERR),
    ("b'<f4'", ERR),
]:
    case("descr " + descr, npy(dict_("(2, 3)", descr)), numpy_verdict, ERR,
         "unsupported dtype %s %s" % (descr, SUPPORTED))
case("descr with raw control bytes",
     npy(b"{'descr': '\x1b[31m\x07\x7f', 'fortran_order': False, "
         b"'shape': (2, 3)}"), ERR,
     message="unsupported dtype '\\x1b[31m\\x07\\x7f'")
case("descr with a control byte", npy(dict_("(2, 3)", "'<f4\\x07\\x1b'")),
     ERR, message="unsupported dtype '<f4\\x07\\x1b'")

# Versions, the length field, the magic string.
H = dict_("(2, 3)")
for version, verdict in [((1, 0), OK), ((2, 0), OK), ((3, 0), OK)]:
    case("version %s" % (version,), npy(H, version), verdict)
for version in [(0, 0), (1, 1), (2, 1), (4, 0), (255, 255)]:
    case("version %s" % (version,), npy(H, version), ERR,
         message="unsupported .npy version %d.%d (einjit reads 1.0, 2.0 and "
         "3.0)" % version)
case("version 2.0 with 'L'", npy(dict_("(2L, 3)"), (2, 0)), OK)
case("version 3.0 with 'L'", npy(dict_("(2L, 3)"), (3, 0)), ERR,
     message="invalid number '2L'")
case("version 3.0 UTF-8 in a comment", npy(D + " # \u00e9\u4e2d", (3, 0)), OK)
case("version 3.0 UTF-8 in a key",
     npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
         "'\u00e9': 1}", (3, 0)), ERR, message="unexpected key '\\xc3\\xa9'")
case("version 3.0 bad UTF-8",
     npy(D.encode() + b" # \xff", (3, 0)), ERR, message="not valid UTF-8")
case("version 3.0 UTF-8 surrogate",
     npy(D.encode() + b" # \xed\xa0\x80", (3, 0)), ERR,
     message="not valid UTF-8")
case("version 3.0 BOM", npy("\ufeff" + D, (3, 0)), ERR,
     message="unexpected name '\\xef")
case("version 1.0 latin-1 in a comment",
     npy(D.encode() + b" # \xff", (1, 0)), OK)
case("no padding", npy(D, pad=False), OK)
case("extra data after the array", npy(H, data=b"\x40" * 100), OK)
case("truncated data", npy(H, data=b"\x40" * 23), ERR,
     message="truncated data: shape needs 24 bytes but the file holds 23")
case("no data", npy(H, data=b""), ERR,
     message="truncated data: shape needs 24 bytes but the file holds 0")
good = npy(H)
for cut in [1, 5, 6, 7, 8, 9, 10, 11, 40]:
    case("cut after %d bytes" % cut, good[:cut], ERR,
         message="truncated header: the file ends after %d bytes" % cut)
case("empty file", b"", ERR, message="not a .npy file (it is empty)")
case("bad magic", b"\x93NUMPx" + good[6:], ERR,
     message="not a .npy file (bad magic string)")
case("text file", b"hello, world\n", ERR,
     message="not a .npy file (bad magic string)")
case("v2 length beyond the file",
     b"\x93NUMPY\x02\x00\xff\xff\xff\xff" + H.encode(), ERR,
     message="truncated header: the file ends after")
# np.load's max_header_size: 10000 characters of header.
for length, verdict in [(10000, OK), (10001, ERR)]:
    header = D.encode() + b" " * (length - 1 - len(D)) + b"\n"
    case("header of %d characters" % length,
         npy(header, (2, 0), pad=False), verdict,
         message="header of 10001 characters is longer than 10000")
# In version 3.0 the limit counts characters, not bytes.
for length, verdict in [(10000, OK), (10001, ERR)]:
    header = D + " #" + "\u00e9" * (length - len(D) - 3) + "\n"
    case("version 3.0 header of %d characters" % length,
         npy(header, (3, 0), pad=False), verdict,
         message="header of 10001 characters is longer than 10000")
# Fortran order and byte order reach the values.
case("fortran order", npy(dict_("(2, 3)", "'<f4'", "True")), OK)
case("fortran order big-endian", npy(dict_("(2, 3, 4)", "'>i8'", "True")), OK)
case("fortran order zero size", npy(dict_("(2, 0, 4)", "'<f8'", "True")), OK)
case("fortran order rank 1", npy(dict_("(5,)", "'>f2'", "True")), OK)


def numpy_verdict(path):
    try:
        return OK, np.load(path)
    except BaseException as e:  # noqa: B902 - numpy raises many kinds
        return ERR, "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:80])


def einjit_verdict(path, out):
    if os.path.exists(out):
        os.remove(out)
    run = subprocess.run([EINSUM_RUN, "...->...", path, "-o", out],
                         capture_output=True, timeout=60)
    if run.returncode == 0:
        return OK, np.load(out)
    return ERR, run


def same_array(a, b):
    native = a.dtype.newbyteorder("=")
    if b.dtype != native or a.shape != b.shape:
        return False
    return np.ascontiguousarray(a.astype(native)).tobytes() == b.tobytes()


failed = 0
for i, (label, data, want_numpy, want_einjit, message) in enumerate(CASES):
    path = os.path.join(WORKDIR, "case%03d.npy" % i)
    out = os.path.join(WORKDIR, "out%03d.npy" % i)
    with open(path, "wb") as f:
        f.write(data)
    problems = []
    got_numpy, array = numpy_verdict(path)
    if got_numpy != want_numpy:
        problems.append("numpy %s it (%s), the table says it %s" %
                        (got_numpy, array if got_numpy == ERR else "",
                         want_numpy))
    got_einjit, result = einjit_verdict(path, out)
    if got_einjit != want_einjit:
        detail = (result.stderr.decode("latin-1").strip()
                  if got_einjit == ERR else "")
        problems.append("einjit %s it, the table says it %s %s" %
                        (got_einjit, want_einjit, detail))
    elif got_einjit == OK and got_numpy == OK and not same_array(array,
                                                                 result):
        problems.append("einjit read %s%s, numpy %s%s" %
                        (result.dtype, result.shape, array.dtype,
                         array.shape))
    elif got_einjit == ERR:
        err = result.stderr
        prefix = b"einsum-run: error: " + path.encode() + b": "
        lines = err.split(b"\n")
        if (not err.startswith(prefix) or len(lines) != 2 or lines[1] or
                any(c < 0x20 or c >= 0x7f for c in lines[0])):
            problems.append("message is not one clean line naming the "
                            "file: %r" % err)
        elif message.encode() not in lines[0]:
            problems.append("message %r lacks %r" % (lines[0], message))
    if problems:
        failed += 1
        for p in problems:
            print("FAIL %s: %s" % (label, p))
print("%d cases, %d failed" % (len(CASES), failed))
