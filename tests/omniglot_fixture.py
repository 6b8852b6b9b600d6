"""A small Omniglot prepared offline by TFDS's own omniglot builder.

TFDS prepares ``omniglot`` from four zip archives it downloads from the
Omniglot repository (``images_background.zip``, ``images_evaluation.zip``,
``images_background_small1.zip``, ``images_background_small2.zip``). There is
no network here, so :func:`prepare_local_omniglot` fabricates archives with
the real layout and runs the real builder on them:

* each archive holds one top folder (``images_background/``, ...) with
  ``<alphabet>/character<NN>/<xxxx>_<yy>.png``: ``xxxx`` the 1-based character
  number over the whole data set (background characters first, then the
  evaluation ones, as in the real archives, where ``Arcadian/character01`` is
  ``0001`` and ``Angelic/character01`` is ``0965``), ``yy`` the drawer
  (``01``-``20``); the small1/small2 archives hold background alphabets under
  their background numbers;
* every image is a 105x105 1-bit PNG, black strokes on white, like the real
  ones. Each character is a few random polyline strokes; every drawer redraws
  them with jittered points, offset and pen width, so characters are
  learnable but not identical across drawers.

The archives go into the download manager's ``manual_dir`` under the file
names TFDS registers for them. TFDS then does the rest itself: it finds the
files there, checks their sizes and SHA-256 against the registered ones,
walks the extracted folders (``_split_generators``, ``_generate_examples``),
encodes the PNGs and writes ``<data_dir>/omniglot/3.0.0``. Substituted are
the registered checksums (``Omniglot.url_infos``, those of the real
archives), replaced only while preparing by those of the fabricated
archives, and, unless ``tfds_extracts=True``, the unzipping (see
:func:`prepare_local_omniglot`).

Use from any test file: import the fixture function, which pytest then
registers under its name ``omniglot_data_dir``::

    from tests.omniglot_fixture import omniglot_data_dir_fixture  # noqa: F401

    def test_something(omniglot_data_dir):
        data = load_dataset("tfds:omniglot", data_dir=omniglot_data_dir,
                            download=False)

The fixture is session-scoped (prepared once per test session) and skips
the test when TensorFlow is not installed. TFDS's builder declares all 50
alphabets and 1,623 characters (its ``ClassLabel`` features, whose names it
sets from the archives), so a smaller Omniglot cannot be prepared by it: the
fixture has them all (964 background characters in TFDS's ``train``, 659
evaluation ones in ``test``), with :data:`FIXTURE_DRAWERS` (6) drawers each
instead of 20, enough for 5-shot episodes with one query per class: 5,784
train and 3,954 test images. Preparing it takes some 15-30 s on a busy
2-core machine (drawing and zipping the PNGs, unzipping, TFDS writing the
records); the real size (``num_drawers=20``, ``tfds_extracts=True``) takes
2-3 minutes.
"""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile
from collections.abc import Sequence
from unittest import mock

import numpy as np
import pytest

# The alphabets of the real archives: 30 background (964 characters) and 20
# evaluation (659). TFDS's builder declares 50 alphabets and 1,623 character
# classes and sets their names from the archives, so all must be present.
BACKGROUND = (
    "Alphabet_of_the_Magi", "Anglo-Saxon_Futhorc", "Arcadian", "Armenian",
    "Asomtavruli_(Georgian)", "Balinese", "Bengali",
    "Blackfoot_(Canadian_Aboriginal_Syllabics)", "Braille", "Burmese_(Myanmar)",
    "Cyrillic", "Early_Aramaic", "Futurama", "Grantha", "Greek", "Gujarati",
    "Hebrew", "Inuktitut_(Canadian_Aboriginal_Syllabics)", "Japanese_(hiragana)",
    "Japanese_(katakana)", "Korean", "Latin", "Malay_(Jawi_-_Arabic)",
    "Mkhedruli_(Georgian)", "N_Ko", "Ojibwe_(Canadian_Aboriginal_Syllabics)",
    "Sanskrit", "Syriac_(Estrangelo)", "Tagalog", "Tifinagh",
)  # fmt: skip
EVALUATION = (
    "Angelic", "Atemayar_Qelisayer", "Atlantean", "Aurek-Besh", "Avesta", "Ge_ez",
    "Glagolitic", "Gurmukhi", "Kannada", "Keble", "Malayalam", "Manipuri",
    "Mongolian", "Old_Church_Slavonic_(Cyrillic)", "Oriya", "Sylheti",
    "Syriac_(Serto)", "Tengwar", "Tibetan", "ULOG",
)  # fmt: skip
NUM_BACKGROUND_CHARACTERS = 964
NUM_EVALUATION_CHARACTERS = 659
# The small archives hold a few background alphabets (five each in the real
# data; fewer here, they are not read by jaxssl).
SMALL1 = ("Balinese", "Greek")
SMALL2 = ("Korean",)
NUM_DRAWERS = 20  # As in the real data.
# Drawers of the test fixture: enough for 5-shot episodes with a query each.
FIXTURE_DRAWERS = 6
IMAGE_SIZE = 105

# The TFDS builder's download keys and the top folder of each archive.
_ARCHIVES = {
    "train": "images_background",
    "eval": "images_evaluation",
    "small1": "images_background_small1",
    "small2": "images_background_small2",
}


def _character_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """A character's prototype: 2-4 polylines of 2-4 points in [0.15, 0.85]^2."""
    return [
        rng.uniform(0.15, 0.85, size=(rng.integers(2, 5), 2))
        for _ in range(rng.integers(2, 5))
    ]


def _drawing(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> bytes:
    """One drawer's rendering of a character: a 1-bit 105x105 PNG."""
    from PIL import Image, ImageDraw

    image = Image.new("1", (IMAGE_SIZE, IMAGE_SIZE), 1)  # White background.
    draw = ImageDraw.Draw(image)
    offset = rng.normal(0.0, 0.03, size=2)
    width = int(rng.integers(3, 6))
    for stroke in strokes:
        points = stroke + offset + rng.normal(0.0, 0.02, size=stroke.shape)
        points = np.clip(points, 0.02, 0.98) * (IMAGE_SIZE - 1)
        draw.line([tuple(p) for p in points], fill=0, width=width, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _layout(rng: np.random.Generator) -> dict[str, tuple[int, int]]:
    """``{alphabet: (number of its first character, its character count)}``.

    Counts split 964 background and 659 evaluation characters as evenly as
    possible. Numbers run over background alphabets first, then evaluation
    ones, each group in a shuffled order (the real numbering is not the
    alphabetical order either: Arcadian is 0001, Alphabet_of_the_Magi 0709).
    """
    layout, number = {}, 1
    for alphabets, total in (
        (BACKGROUND, NUM_BACKGROUND_CHARACTERS),
        (EVALUATION, NUM_EVALUATION_CHARACTERS),
    ):
        counts = np.full(len(alphabets), total // len(alphabets))
        counts[: total % len(alphabets)] += 1
        for i in rng.permutation(len(alphabets)):
            layout[alphabets[i]] = (number, int(counts[i]))
            number += int(counts[i])
    return layout


def write_archives(
    archive_dir: str, *, num_drawers: int = NUM_DRAWERS, seed: int = 0
) -> dict[str, str]:
    """Write the four Omniglot zip archives: real layout, fabricated drawings.

    Args:
      archive_dir: folder to write ``images_background.zip`` etc. into.
      num_drawers: drawings per character, in ``[1, 20]`` (20 in the real
        data; fewer prepare faster).
      seed: seed of the drawings and numbering; the same seed writes the same
        archives.

    Returns:
      ``{"train" | "eval" | "small1" | "small2": path of the zip}`` (the keys
      of the TFDS builder's download dict).
    """
    if isinstance(num_drawers, bool) or not 1 <= num_drawers <= NUM_DRAWERS:
        raise ValueError(f"num_drawers must be in [1, 20], got {num_drawers!r}")
    rng = np.random.default_rng(seed)
    layout = _layout(rng)
    contents = {
        "train": BACKGROUND,
        "eval": EVALUATION,
        "small1": SMALL1,
        "small2": SMALL2,
    }
    # Each character is drawn once; the small archives repeat the background
    # files under the same names, as in the real data.
    drawings = {}
    for alphabet, (_, count) in layout.items():
        for char in range(count):
            strokes = _character_strokes(rng)
            drawings[alphabet, char] = [
                _drawing(strokes, rng) for _ in range(num_drawers)
            ]
    os.makedirs(archive_dir, exist_ok=True)
    paths = {}
    for key, top in _ARCHIVES.items():
        path = os.path.join(archive_dir, f"{top}.zip")
        with zipfile.ZipFile(path, "w") as archive:
            for alphabet in contents[key]:
                first, count = layout[alphabet]
                for char in range(count):
                    folder = f"{top}/{alphabet}/character{char + 1:02d}"
                    for drawer, png in enumerate(drawings[alphabet, char]):
                        name = f"{first + char:04d}_{drawer + 1:02d}.png"
                        archive.writestr(f"{folder}/{name}", png)
        paths[key] = path
    return paths


def prepare_local_omniglot(
    data_dir: str,
    *,
    num_drawers: int = FIXTURE_DRAWERS,
    seed: int = 0,
    tfds_extracts: bool = False,
) -> str:
    """Prepare ``omniglot`` in ``data_dir`` with TFDS's builder, offline.

    Writes fabricated archives (:func:`write_archives`) into
    ``<data_dir>/downloads/manual`` and runs
    ``tfds.builder("omniglot").download_and_prepare`` with them as the manual
    downloads, the registered checksums swapped for theirs.

    Args:
      data_dir: TFDS data directory to prepare into.
      num_drawers: drawings per character (1-20); the 1,623 characters are
        all there whatever the count, so this sets the size: 6 drawers is
        about 10k images, 20 the real 32,460.
      seed: seed of the drawings.
      tfds_extracts: whether TFDS's extractor unzips the archives. It copies
        file by file through ``tf.io.gfile`` (some ms per file, most of the
        preparation time), so by default Python's ``zipfile`` unzips them
        into the folder where TFDS's download manager looks for a previous
        extraction (``downloads/extracted/ZIP.<archive name>``), and TFDS
        reuses it. Either way TFDS finds, checks and walks the files itself.

    Returns:
      ``data_dir``, ready for ``load_dataset("tfds:omniglot",
      data_dir=data_dir, download=False)``.
    """
    import tensorflow_datasets as tfds
    from tensorflow_datasets.image_classification import omniglot

    manual_dir = os.path.join(data_dir, "downloads", "manual")
    paths = write_archives(manual_dir, num_drawers=num_drawers, seed=seed)
    if not tfds_extracts:
        extract_dir = os.path.join(data_dir, "downloads", "extracted")
        for path in paths.values():
            with zipfile.ZipFile(path) as archive:
                archive.extractall(
                    os.path.join(extract_dir, f"ZIP.{os.path.basename(path)}")
                )
    registered = omniglot.Omniglot.url_infos
    local_infos = {}
    for key, url in omniglot._DL_URLS.items():  # The builder's own URLs.
        filename = os.path.basename(paths[key])
        if registered and registered[url].filename != filename:
            raise AssertionError(
                f"TFDS registers {url} as {registered[url].filename}, not {filename}"
            )
        computed = tfds.download.checksums.compute_url_info(paths[key])
        local_infos[url] = dataclasses.replace(computed, filename=filename)
    builder = tfds.builder("omniglot", data_dir=data_dir)
    config = tfds.download.DownloadConfig(manual_dir=manual_dir, try_download_gcs=False)
    with mock.patch.object(omniglot.Omniglot, "url_infos", local_infos):
        builder.download_and_prepare(download_config=config)
    return data_dir


@pytest.fixture(scope="session", name="omniglot_data_dir")
def omniglot_data_dir_fixture(tmp_path_factory) -> str:
    """A TFDS data directory with the small local Omniglot prepared (once)."""
    pytest.importorskip("tensorflow", reason="TFDS needs tensorflow (jaxssl[tfds])")
    pytest.importorskip("tensorflow_datasets")
    return prepare_local_omniglot(str(tmp_path_factory.mktemp("tfds_omniglot")))
