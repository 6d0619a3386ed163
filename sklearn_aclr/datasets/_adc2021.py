"""Reading and fetching the CMS ADC2021 samples (Govorkova et al., Sci Data 9, 118 (2022))."""

import contextlib
import os
from pathlib import Path

import h5py
import numpy as np

from sklearn_aclr._layout import ADC2021, check_events

__all__ = [
    "ADC2021_SAMPLES",
    "ADC2021Writer",
    "fetch_adc2021",
    "get_data_home",
    "load_adc2021",
    "write_adc2021",
]

# The metadata datasets of the published files.
_PARTICLE_NAMES = [b"Pt", b"Eta", b"Phi", b"Class"]
_PARTICLE_CLASSES = [b"MET_class_1", b"Four_Ele_class_2", b"Four_Mu_class_3", b"Ten_Jet_class_4"]

# Zenodo records of the ADC2021 samples: (2021 upload, 2022 re-upload) DOIs and the file name.
ADC2021_SAMPLES = {
    "background": ("10.5281/zenodo.5046389", "10.5281/zenodo.5046428",
                   "background_for_training.h5"),
    "Ato4l": ("10.5281/zenodo.5046446", "10.5281/zenodo.7152590", "Ato4l_lepFilter_13TeV.h5"),
    "leptoquark": ("10.5281/zenodo.5055454", "10.5281/zenodo.7152599",
                   "leptoquark_LOWMASS_lepFilter_13TeV.h5"),
    "hToTauTau": ("10.5281/zenodo.5061633", "10.5281/zenodo.7152614", "hToTauTau_13TeV_PU20.h5"),
    "hChToTauNu": ("10.5281/zenodo.5061688", "10.5281/zenodo.7152617",
                   "hChToTauNu_13TeV_PU20.h5"),
    "blackbox": ("10.5281/zenodo.5070455", "10.5281/zenodo.5072068",
                 "BlackBox_background_mix.h5"),
}
"""Sample name -> (DOI of the 2021 upload, DOI of the 2022 re-upload, file name)."""


def load_adc2021(path, *, n_events=None, start=0, return_event_id=False):
    """Read events from an ADC2021 HDF5 file, or a slice of them.

    Only the requested slice is read from disk, so a few events of a multi-GB file load in
    milliseconds.

    Parameters
    ----------
    path : str or path-like
        An HDF5 file in the published ADC2021 layout: a dataset ``Particles`` of shape
        (N, 19, 4) with columns pT, eta, phi, class id; usually also ``Particles_Names`` and
        ``Particles_Classes``; the black-box files add ``EvtId``.
    n_events : int, default=None
        Number of events to read; None reads to the end of the file.
    start : int, default=0
        Index of the first event to read.
    return_event_id : bool, default=False
        Also return the ``EvtId`` dataset (black-box files), None where the file has none.

    Returns
    -------
    events : ndarray of shape (n_events, 19, 4), dtype float32
        Validated events (see :class:`~sklearn_aclr.EventLayout`).
    event_id : ndarray of shape (n_events,) or None
        Only with ``return_event_id=True``.

    Raises
    ------
    OSError
        When the file is missing or not a readable HDF5 file.
    ValueError
        When ``Particles`` is missing or has the wrong shape, or the events fail validation;
        the message names the file.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_aclr.datasets import load_adc2021, make_adc_events, write_adc2021
    >>> path = write_adc2021(os.path.join(tempfile.mkdtemp(), "events.h5"),
    ...                      make_adc_events(100, random_state=0)[0])
    >>> load_adc2021(path, n_events=10, start=5).shape
    (10, 19, 4)
    """
    path = os.fspath(path)
    if not isinstance(start, (int, np.integer)) or start < 0:
        raise ValueError(f"start must be a non-negative integer; got {start!r}.")
    if n_events is not None and (not isinstance(n_events, (int, np.integer)) or n_events < 0):
        raise ValueError(f"n_events must be None or a non-negative integer; got {n_events!r}.")
    with open_adc2021(path) as particles:
        total = len(particles)
        if start > total:
            raise ValueError(f"start={start} is beyond the {total} events of {path!r}.")
        stop = total if n_events is None else min(total, start + n_events)
        events = particles[start:stop].astype(np.float32)
        event_id = None
        if return_event_id and "EvtId" in particles.file:
            event_id = particles.file["EvtId"][start:stop]
    try:
        events = check_events(events, ADC2021)
    except ValueError as exc:
        raise ValueError(f"{path!r}, events {start} to {stop}: {exc}") from None
    return (events, event_id) if return_event_id else events


class open_adc2021:  # noqa: N801 - used like open()
    """Context manager giving the validated ``Particles`` dataset of an ADC2021 file.

    The dataset is an ``h5py.Dataset``: slicing it reads only that slice from disk.

    Parameters
    ----------
    path : str or path-like
        The HDF5 file.

    Examples
    --------
    >>> import h5py, tempfile, os
    >>> import numpy as np
    >>> from sklearn_aclr.datasets import open_adc2021
    >>> path = os.path.join(tempfile.mkdtemp(), "events.h5")
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("Particles", data=np.zeros((7, 19, 4), dtype="f4"))
    >>> with open_adc2021(path) as particles:
    ...     particles.shape
    (7, 19, 4)
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._file = None

    def __enter__(self):
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"No ADC2021 file at {self.path!r}.")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise OSError(
                f"{self.path!r} is not a readable HDF5 file ({exc}); it may be truncated or "
                "corrupt. Download it again (fetch_adc2021 verifies checksums)."
            ) from exc
        if "Particles" not in self._file:
            keys = sorted(self._file.keys())
            self._file.close()
            raise ValueError(
                f"{self.path!r} has no 'Particles' dataset (it has {keys}); ADC2021 files "
                "store events as 'Particles' of shape (N, 19, 4)."
            )
        particles = self._file["Particles"]
        if particles.ndim != 3 or particles.shape[1:] != (ADC2021.n_slots, 4):
            shape = particles.shape
            self._file.close()
            raise ValueError(
                f"'Particles' in {self.path!r} has shape {shape}; ADC2021 files have (N, 19, 4) "
                "with columns pT, eta, phi, class id."
            )
        return particles

    def __exit__(self, *exc_info):
        self._file.close()
        return False


class ADC2021Writer:
    """Write events to an ADC2021-layout HDF5 file in pieces, atomically.

    Events go to a temporary file beside ``path``, which replaces ``path`` only when the
    ``with`` block ends without an error; an interrupted write leaves no file behind. The file
    has the published layout (``Particles`` of shape (N, 19, 4), ``Particles_Names``,
    ``Particles_Classes``), so :func:`load_adc2021`, :class:`ADC2021Stream` and the CMS tools
    read it. Each piece is validated before it is written.

    Parameters
    ----------
    path : str or path-like
        The file to write; an existing file is replaced on success.
    attrs : dict, default=None
        Metadata stored as HDF5 attributes of the file (strings, numbers or arrays), for
        example how the events were made.
    compression : {None, "gzip", "lzf"}, default=None
        HDF5 compression of ``Particles``. The published files are uncompressed.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_aclr.datasets import ADC2021Writer, load_adc2021, make_adc_events
    >>> X, _ = make_adc_events(30, random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "events.h5")
    >>> with ADC2021Writer(path, attrs={"source": "make_adc_events"}) as writer:
    ...     writer.append(X[:10])
    ...     writer.append(X[10:])
    >>> load_adc2021(path).shape
    (30, 19, 4)
    """

    def __init__(self, path, *, attrs=None, compression=None):
        self.path = os.fspath(path)
        self.attrs = {} if attrs is None else dict(attrs)
        self.compression = compression
        self._file = self._particles = None

    def __enter__(self):
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise OSError(f"Cannot write {self.path!r}: {folder!r} is not a writable folder.")
        self._tmp_path = f"{self.path}.part-{os.getpid()}"
        self._file = h5py.File(self._tmp_path, "w")
        self._particles = self._file.create_dataset(
            "Particles", shape=(0, ADC2021.n_slots, 4), maxshape=(None, ADC2021.n_slots, 4),
            dtype="f4", chunks=(1024, ADC2021.n_slots, 4), compression=self.compression,
        )
        self._file.create_dataset("Particles_Names", data=_PARTICLE_NAMES)
        self._file.create_dataset("Particles_Classes", data=_PARTICLE_CLASSES)
        for key, value in self.attrs.items():
            self._file.attrs[key] = value
        return self

    def append(self, events):
        """Validate and append events of shape (n, 19, 4)."""
        events = np.asarray(events)
        if events.ndim != 3 or events.shape[1:] != (ADC2021.n_slots, 4):
            raise ValueError(
                f"Events to write must have shape (n, {ADC2021.n_slots}, 4); got {events.shape}."
            )
        events = check_events(events, ADC2021)
        n = len(self._particles)
        self._particles.resize(n + len(events), axis=0)
        self._particles[n:] = events

    def set_attribute(self, key, value):
        """Store one more metadata attribute, for example a count known only at the end."""
        self._file.attrs[key] = value

    def __exit__(self, exc_type, exc, traceback):
        self._file.close()
        if exc_type is None:
            os.replace(self._tmp_path, self.path)
        else:
            os.remove(self._tmp_path)
        return False


def write_adc2021(path, events, *, attrs=None, compression=None):
    """Write events to an HDF5 file in the published ADC2021 layout, atomically.

    Parameters
    ----------
    path : str or path-like
        The file to write; an existing file is replaced.
    events : array-like of shape (n_events, 19, 4)
        Events in the ADC2021 ``Particles`` layout.
    attrs : dict, default=None
        Metadata stored as HDF5 attributes of the file.
    compression : {None, "gzip", "lzf"}, default=None
        HDF5 compression of ``Particles``.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_aclr.datasets import load_adc2021, make_adc_events, write_adc2021
    >>> X, _ = make_adc_events(20, random_state=0)
    >>> path = write_adc2021(os.path.join(tempfile.mkdtemp(), "events.h5"), X)
    >>> bool((load_adc2021(path) == X).all())
    True
    """
    with ADC2021Writer(path, attrs=attrs, compression=compression) as writer:
        writer.append(events)
    return Path(path)


def get_data_home(data_home=None):
    """The folder where fetched samples are cached, created if needed.

    ``data_home`` if given, else the ``SKLEARN_ACLR_DATA`` environment variable, else
    ``~/sklearn_aclr_data``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder.

    Returns
    -------
    data_home : str

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_aclr.datasets import get_data_home
    >>> folder = get_data_home(tempfile.mkdtemp())
    """
    if data_home is None:
        data_home = os.environ.get("SKLEARN_ACLR_DATA", Path.home() / "sklearn_aclr_data")
    data_home = Path(data_home).expanduser()
    try:
        data_home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            f"Cannot create the data folder {str(data_home)!r} ({exc}). Pass a writable "
            "data_home, or set the SKLEARN_ACLR_DATA environment variable."
        ) from exc
    if not os.access(data_home, os.W_OK):
        raise OSError(
            f"The data folder {str(data_home)!r} is not writable. Pass a writable data_home, or "
            "set the SKLEARN_ACLR_DATA environment variable."
        )
    return str(data_home)


def fetch_adc2021(sample, *, data_home=None, download_if_missing=True, version="2021",
                  base_url=None, known_hash=None, progressbar=True):
    """Download (once) and return the path of an ADC2021 sample.

    Files come from their Zenodo records through :mod:`pooch`, are verified against a
    checksum, and are written atomically: a download goes to a temporary file in the cache and
    is moved into place only after its checksum matched, so an interrupted or corrupted
    download never leaves a file that is later trusted. The verified checksum is stored beside
    the file and checked again, offline, on every later call.

    Parameters
    ----------
    sample : {"background", "Ato4l", "leptoquark", "hToTauTau", "hChToTauNu", "blackbox"}
        Which sample; see :data:`ADC2021_SAMPLES`.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        If False, raise an OSError instead of downloading a missing file.
    version : {"2021", "2022"}, default="2021"
        The original Zenodo upload or the 2022 re-upload.
    base_url : str, default=None
        A mirror to download from instead of Zenodo: the file is fetched from
        ``base_url + file name``. A mirror does not vouch for its own files, so ``known_hash``
        is then required.
    known_hash : str, default=None
        Expected checksum, such as ``"md5:..."`` or ``"sha256:..."``. With Zenodo as the
        source and no ``known_hash``, the checksum published in the Zenodo record is used.
    progressbar : bool, default=True
        Show a progress bar while downloading.

    Returns
    -------
    path : str
        Path of the verified file; read it with :func:`load_adc2021`.

    Raises
    ------
    OSError
        When the file is missing and ``download_if_missing`` is False, or the cache is not
        writable.
    ValueError
        On an unknown sample, or when the downloaded file does not match its checksum.

    Examples
    --------
    >>> from sklearn_aclr.datasets import fetch_adc2021
    >>> path = fetch_adc2021("Ato4l")  # doctest: +SKIP
    """
    try:
        doi_2021, doi_2022, filename = ADC2021_SAMPLES[sample]
    except KeyError:
        raise ValueError(
            f"Unknown ADC2021 sample {sample!r}; expected one of {sorted(ADC2021_SAMPLES)}."
        ) from None
    if version not in ("2021", "2022"):
        raise ValueError(f"version must be '2021' or '2022'; got {version!r}.")
    if base_url is not None and known_hash is None:
        raise ValueError(
            "Downloading from a mirror (base_url) needs known_hash, the checksum of the file "
            "as published on Zenodo, such as 'md5:...'."
        )
    folder = Path(get_data_home(data_home)) / version
    folder.mkdir(exist_ok=True)
    target = folder / filename
    checksum_file = folder / (filename + ".checksum")
    if target.exists() and checksum_file.exists():
        _verify_cached(target, checksum_file.read_text().strip())
        return str(target)
    # Jobs that share the cache take turns: the first downloads and verifies, the others
    # wait, then find the verified file.
    with _cache_lock(folder / ".locks" / (filename + ".lock")):
        if target.exists() and checksum_file.exists():
            _verify_cached(target, checksum_file.read_text().strip())
            return str(target)
        return _download(sample, filename, folder, checksum_file, download_if_missing,
                         version, doi_2021, doi_2022, base_url, known_hash, progressbar)


def _download(sample, filename, folder, checksum_file, download_if_missing, version, doi_2021,
              doi_2022, base_url, known_hash, progressbar):
    """Download ``filename`` into ``folder``, verify it and record its checksum."""
    if not download_if_missing:
        raise OSError(
            f"ADC2021 sample {sample!r} is not in {str(folder)!r} and download_if_missing is "
            "False."
        )
    pooch = _import_pooch()
    if base_url is None:
        doi = doi_2021 if version == "2021" else doi_2022
        if known_hash is None:
            source = pooch.create(path=folder, base_url=f"doi:{doi}/", registry=None)
            source.load_registry_from_doi()
            known_hash = source.registry[filename]
        url = f"doi:{doi}/{filename}"
    else:
        url = base_url.rstrip("/") + "/" + filename
    try:
        path = pooch.retrieve(url, known_hash=known_hash, fname=filename, path=folder,
                              progressbar=progressbar)
    except ValueError as exc:
        raise ValueError(
            f"The download of {filename!r} from {url!r} does not match its checksum "
            f"{known_hash!r} and was discarded ({exc})."
        ) from exc
    except OSError as exc:  # requests' errors are OSErrors: refused, reset, cut short
        raise OSError(
            f"The download of {filename!r} from {url!r} failed ({type(exc).__name__}: {exc}); "
            "nothing was kept in the cache. Call fetch_adc2021 again to retry."
        ) from exc
    checksum_file.write_text(known_hash if ":" in known_hash else f"sha256:{known_hash}")
    return path


@contextlib.contextmanager
def _cache_lock(path):
    """An exclusive lock on ``path`` across processes (POSIX record locks, which work on NFS
    as well as local disks; on Windows a lock on the first byte of the file)."""
    path.parent.mkdir(exist_ok=True)
    with open(path, "a+b") as handle:
        if os.name == "nt":  # pragma: no cover - exercised on Windows only
            import msvcrt

            handle.seek(0)
            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after 10 s; keep waiting
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.lockf(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(handle, fcntl.LOCK_UN)


def _verify_cached(path, known_hash):
    import pooch  # only reached where pooch wrote the file

    alg, _, expected = known_hash.partition(":")
    if pooch.file_hash(str(path), alg=alg) != expected:
        raise OSError(
            f"The cached file {str(path)!r} no longer matches its checksum {known_hash!r}. "
            "Delete it and fetch it again."
        )


def _import_pooch():
    try:
        import pooch
    except ImportError as exc:
        raise ImportError(
            "fetch_adc2021 downloads with pooch: pip install 'sklearn-aclr[fetch]' (or pooch)."
        ) from exc
    return pooch
