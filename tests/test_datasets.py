import collections
import hashlib
import http.server
import os
import subprocess
import sys
import threading
import time
import warnings
from functools import partial

import h5py
import numpy as np
import pytest
from _tiny import TINY_ENCODER

from sklearn_aclr.datasets import (
    ADC2021Stream,
    fetch_adc2021,
    get_data_home,
    load_adc2021,
    make_adc_events,
)

FILENAME = "Ato4l_lepFilter_13TeV.h5"


def _write(path, events, **extra):
    with h5py.File(path, "w") as f:
        f.create_dataset("Particles", data=events)
        f.create_dataset("Particles_Names", data=np.array([b"Pt", b"Eta", b"Phi", b"Class"]))
        for key, value in extra.items():
            f.create_dataset(key, data=value)
    return path


@pytest.fixture(scope="module")
def h5file(tmp_path_factory):
    events, _ = make_adc_events(500, random_state=0)
    path = tmp_path_factory.mktemp("adc") / "events.h5"
    return _write(path, events, EvtId=np.arange(500) + 1000), events


def test_load_whole_file_and_slices(h5file):
    path, events = h5file
    np.testing.assert_array_equal(load_adc2021(path), events)
    np.testing.assert_array_equal(load_adc2021(path, n_events=10, start=20), events[20:30])
    assert load_adc2021(path, start=495, n_events=100).shape == (5, 19, 4)
    X, event_id = load_adc2021(path, n_events=3, return_event_id=True)
    assert event_id.tolist() == [1000, 1001, 1002] and X.dtype == np.float32


def test_load_reads_only_the_slice(h5file, monkeypatch):
    path, _ = h5file
    calls = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        calls.append(key)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    load_adc2021(path, n_events=4, start=100)
    assert calls == [slice(100, 104)]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda p: p.with_name("missing.h5"), FileNotFoundError, "No ADC2021 file at"),
        (lambda p: p.write_bytes(b"not hdf5") and p, OSError, "not a readable HDF5 file"),
        (lambda p: _write(p, np.zeros((3, 18, 4))), ValueError, "has shape \\(3, 18, 4\\)"),
        (lambda p: _h5(p, Other=np.zeros(3)), ValueError, "has no 'Particles' dataset.*Other"),
        (lambda p: _write(p, _bad_class()), ValueError, "events.h5', events 0 to 2: Class id 3"),
    ],
    ids=["missing", "not-hdf5", "shape", "no-particles", "class-ids"],
)
def test_bad_files(tmp_path, make, error, match):
    path = make(tmp_path / "events.h5")
    with pytest.raises(error, match=match):
        load_adc2021(path)


def test_truncated_file(tmp_path, h5file):
    data = h5file[0].read_bytes()
    path = tmp_path / "events.h5"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match="not a readable HDF5 file|truncated"):
        load_adc2021(path)


def _h5(path, **datasets):
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value)
    return path


def _bad_class():
    events = np.zeros((2, 19, 4))
    events[:, 0, 3] = 1
    events[1, 1] = [20.0, 0.0, 0.0, 3.0]  # a muon id in an electron slot
    return events


@pytest.mark.parametrize("kwargs", [dict(start=-1), dict(n_events=-5), dict(start=10_000)])
def test_bad_arguments(h5file, kwargs):
    with pytest.raises(ValueError, match="start|n_events"):
        load_adc2021(h5file[0], **kwargs)


# --- fetching, against a server on 127.0.0.1 ----------------------------------------------

class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; paths under /cut/ send half of the file and drop the connection, paths
    under /slow/ wait a second first. ``gets`` counts the requests per path."""

    gets = None  # a Counter, set by the fixture

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.gets[self.path] += 1
        if self.path.startswith("/slow/"):
            time.sleep(1.0)
            self.path = self.path[len("/slow"):]
        if not self.path.startswith("/cut/"):
            return super().do_GET()
        with open(os.path.join(self.directory, self.path[len("/cut/"):]), "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.connection.shutdown(2)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mirror")
    events, _ = make_adc_events(300, random_state=1)
    _write(folder / FILENAME, events)
    md5 = hashlib.md5((folder / FILENAME).read_bytes()).hexdigest()
    _Handler.gets = collections.Counter()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            partial(_Handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", f"md5:{md5}", events
    httpd.shutdown()


def test_fetch_downloads_verifies_and_caches(server, tmp_path):
    url, md5, events = server
    path = fetch_adc2021("Ato4l", data_home=tmp_path, base_url=url, known_hash=md5,
                         progressbar=False)
    assert path == str(tmp_path / "2021" / FILENAME)
    np.testing.assert_array_equal(load_adc2021(path), events)
    # A second call is served from the cache, offline: no server, no download.
    again = fetch_adc2021("Ato4l", data_home=tmp_path, download_if_missing=False)
    assert again == path


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    url, _, _ = server
    with pytest.raises(ValueError, match="does not match its checksum"):
        fetch_adc2021("Ato4l", data_home=tmp_path, base_url=url, known_hash="md5:" + "0" * 32,
                      progressbar=False)
    assert _kept(tmp_path / "2021") == []


def _kept(folder):
    """The files a fetch left in the cache folder, without its lock files."""
    return sorted(name for name in os.listdir(folder) if name != ".locks")


def test_interrupted_transfer_keeps_nothing(server, tmp_path):
    url, md5, _ = server
    with pytest.raises(OSError, match="failed .*nothing was kept"):
        fetch_adc2021("Ato4l", data_home=tmp_path, base_url=url + "/cut", known_hash=md5,
                      progressbar=False)
    assert _kept(tmp_path / "2021") == []


def test_two_jobs_fetching_at_once_leave_one_verified_copy(server, tmp_path):
    """Jobs on a cluster that share the cache: one downloads, the other waits for it."""
    url, md5, events = server
    code = ("import sys; from sklearn_aclr.datasets import fetch_adc2021; "
            f"print(fetch_adc2021('Ato4l', data_home=sys.argv[1], base_url={url + '/slow'!r}, "
            f"known_hash={md5!r}, progressbar=False))")
    before = _Handler.gets[f"/slow/{FILENAME}"]
    jobs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [job.communicate(timeout=120) for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], [err for _, err in outputs]
    assert {out.strip() for out, _ in outputs} == {str(tmp_path / "2021" / FILENAME)}
    assert _Handler.gets[f"/slow/{FILENAME}"] - before == 1  # one download for both
    assert _kept(tmp_path / "2021") == [FILENAME, FILENAME + ".checksum"]
    np.testing.assert_array_equal(load_adc2021(tmp_path / "2021" / FILENAME), events)


def test_corrupted_cache_is_detected(server, tmp_path):
    url, md5, _ = server
    path = fetch_adc2021("Ato4l", data_home=tmp_path, base_url=url, known_hash=md5,
                         progressbar=False)
    with open(path, "r+b") as f:
        f.seek(2000)
        f.write(b"\xff" * 16)
    with pytest.raises(OSError, match="no longer matches its checksum"):
        fetch_adc2021("Ato4l", data_home=tmp_path, download_if_missing=False)


def test_fetch_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="Unknown ADC2021 sample 'Zprime'"):
        fetch_adc2021("Zprime", data_home=tmp_path)
    with pytest.raises(ValueError, match="needs known_hash"):
        fetch_adc2021("Ato4l", data_home=tmp_path, base_url="http://127.0.0.1:1")
    with pytest.raises(OSError, match="download_if_missing is False"):
        fetch_adc2021("Ato4l", data_home=tmp_path, download_if_missing=False)
    with pytest.raises(ValueError, match="version must be"):
        fetch_adc2021("Ato4l", data_home=tmp_path, version="2023")


def test_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_ACLR_DATA", str(tmp_path / "cache"))
    assert get_data_home() == str(tmp_path / "cache")
    assert os.path.isdir(tmp_path / "cache")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(OSError, match="not writable"):
            get_data_home(locked)
    finally:
        locked.chmod(0o700)


def test_unwritable_data_home_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError, match="Cannot create the data folder"):
        get_data_home(blocker / "sub")


# --- streaming ----------------------------------------------------------------------------

def test_stream_serves_events_in_any_order(h5file):
    from sklearn_aclr.datasets import ADC2021Stream

    path, events = h5file
    stream = ADC2021Stream(path, start=100, n_events=50)
    assert len(stream) == 50
    np.testing.assert_array_equal(stream[0], events[100])
    batch = stream.__getitems__([7, 3, 3, 49])
    np.testing.assert_array_equal(np.stack(batch), events[[107, 103, 103, 149]])
    with pytest.raises(IndexError):
        stream[50]
    with pytest.raises(ValueError, match="outside the 500 events"):
        ADC2021Stream(path, start=501)


def test_stream_in_a_dataloader_with_workers(h5file):
    import pickle

    import torch

    from sklearn_aclr.datasets import ADC2021Stream

    path, events = h5file
    stream = ADC2021Stream(path)
    stream[0]  # open the file in this process; workers and pickles must not share the handle
    assert pickle.loads(pickle.dumps(stream))._handle is None
    loader = torch.utils.data.DataLoader(
        stream, batch_size=64, shuffle=True, num_workers=2,
        generator=torch.Generator().manual_seed(0),
    )
    seen = torch.cat(list(loader))
    assert seen.shape == (500, 19, 4)
    # Every event exactly once: compare sorted rows.
    key = lambda a: np.lexsort(a.reshape(len(a), -1).T[::-1])  # noqa: E731
    got = seen.numpy()
    np.testing.assert_array_equal(got[key(got)], events[key(events)])


def test_stream_slices_and_blocks(h5file):
    from sklearn_aclr.datasets import ADC2021Stream

    path, events = h5file
    stream = ADC2021Stream(path, start=100)
    np.testing.assert_array_equal(stream[10:20], events[110:120])
    np.testing.assert_array_equal(np.concatenate(list(stream.iter_blocks(128))), events[100:])
    with pytest.raises(ValueError, match="contiguous"):
        stream[0:10:2]


# --- fitting on streams -------------------------------------------------------------------

SMALL = dict(TINY_ENCODER, max_epochs=2, random_state=0)


def test_transformer_on_a_stream_equals_in_memory(h5file):
    from sklearn_aclr import AnomalyCLRTransformer
    from sklearn_aclr.datasets import ADC2021Stream

    path, events = h5file
    stream = ADC2021Stream(path)
    in_memory = AnomalyCLRTransformer(**SMALL).fit(events)
    streamed = AnomalyCLRTransformer(**SMALL).fit(stream)
    np.testing.assert_array_equal(streamed.loss_curve_, in_memory.loss_curve_)
    np.testing.assert_array_equal(streamed.transform(stream), in_memory.transform(events))
    assert streamed.n_features_in_ == 76


def test_scorer_and_scaler_on_streams_equal_in_memory(h5file):
    from sklearn_aclr import AutoEncoderScorer, EventScaler
    from sklearn_aclr.datasets import ADC2021Stream

    path, events = h5file
    scaler = EventScaler().fit(ADC2021Stream(path))
    reference = EventScaler().fit(events)
    np.testing.assert_allclose(scaler.scale_, reference.scale_, rtol=1e-12)
    np.testing.assert_array_equal(scaler.transform(ADC2021Stream(path)),
                                  reference.transform(events))

    features = ADC2021Stream(path, transform=scaler)
    streamed = AutoEncoderScorer(max_epochs=2, random_state=0).fit(features)
    in_memory = AutoEncoderScorer(max_epochs=2, random_state=0).fit(reference.transform(events))
    assert streamed.offset_ == in_memory.offset_
    np.testing.assert_array_equal(streamed.score_samples(features),
                                  in_memory.score_samples(reference.transform(events)))
    np.testing.assert_array_equal(streamed.predict(features)[:50],
                                  in_memory.predict(reference.transform(events)[:50]))


def test_streams_of_the_wrong_kind_are_clear_errors(h5file):
    from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler
    from sklearn_aclr.datasets import ADC2021Stream

    path, events = h5file
    raw = ADC2021Stream(path)
    with pytest.raises(ValueError, match="takes features, but this stream serves raw events"):
        AutoEncoderScorer().fit(raw)
    scaler = EventScaler().fit(raw)
    with pytest.raises(ValueError, match="takes events, but this stream serves features"):
        AnomalyCLRTransformer().fit(ADC2021Stream(path, transform=scaler))
    with pytest.raises(ValueError, match="Set layout='adc2021'"):
        EventScaler(layout="tabular").fit(raw)
    with pytest.raises(ValueError, match="serves no events"):
        EventScaler().fit(ADC2021Stream(path, start=500))
    narrow = EventScaler().fit(events[..., :3])  # 57 features in fit, a stream has 76
    with pytest.raises(ValueError, match="serves 76 features per event"):
        narrow.transform(raw)


# --- writing ------------------------------------------------------------------------------

def test_writer_round_trip_and_atomicity(tmp_path):
    from sklearn_aclr.datasets import ADC2021Writer, write_adc2021

    events, _ = make_adc_events(40, random_state=1)
    path = tmp_path / "out.h5"
    write_adc2021(path, events, attrs={"seed": 3}, compression="gzip")
    np.testing.assert_array_equal(load_adc2021(path), events)
    with h5py.File(path) as f:
        assert f.attrs["seed"] == 3
        assert list(f["Particles_Names"]) == [b"Pt", b"Eta", b"Phi", b"Class"]

    # An error inside the block keeps the old file and leaves no partial file behind.
    def write_then_fail():
        with ADC2021Writer(path) as writer:
            writer.append(events[:5])
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_then_fail()
    assert len(load_adc2021(path)) == 40
    assert sorted(os.listdir(tmp_path)) == ["out.h5"]

    bad = events.copy()
    bad[0, 1, 3] = 7
    with pytest.raises(ValueError, match="Class id 7"):
        write_adc2021(tmp_path / "bad.h5", bad)
    with pytest.raises(ValueError, match="must have shape"):
        write_adc2021(tmp_path / "bad.h5", events[:, :18])
    assert sorted(os.listdir(tmp_path)) == ["out.h5"]
    with pytest.raises(OSError, match="not a writable folder"):
        write_adc2021(tmp_path / "missing" / "x.h5", events)


# --- the shipped demo set -----------------------------------------------------------------

def test_load_demo():
    from sklearn_aclr import ADC2021
    from sklearn_aclr._layout import check_events
    from sklearn_aclr.datasets import DEMO_RECIPE, load_demo

    demo = load_demo()
    counts = {**DEMO_RECIPE["background"], **DEMO_RECIPE["signals"]}
    assert demo.data.shape == (sum(counts.values()), 19, 4) and demo.data.dtype == np.float32
    names, n = np.unique(demo.process, return_counts=True)
    assert dict(zip(names.tolist(), n.tolist())) == counts
    np.testing.assert_array_equal(demo.target, np.isin(demo.process, demo.signal_names))
    check_events(demo.data, ADC2021)
    leptons = demo.data[:, np.r_[ADC2021.slots_of("ele"), ADC2021.slots_of("mu")], 0]
    assert (leptons.max(axis=1) > 23).all()  # every event passed the lepton filter
    n_background = sum(DEMO_RECIPE["background"].values())
    assert (demo.target[:n_background] == 0).all() and (demo.target[n_background:] == 1).all()
    assert "Made by: python " in demo.DESCR  # the command that built the shipped file
    assert demo.generation["W_lnu"]["n_events"] == DEMO_RECIPE["background"]["W_lnu"]

    X, y = load_demo(signal="hToTauTau", return_X_y=True)
    assert len(X) == n_background + 1000 and y.sum() == 1000
    np.testing.assert_array_equal(X[y == 1], demo.data[demo.process == "hToTauTau"])
    with pytest.raises(ValueError, match="Unknown signal 'Zprime'"):
        load_demo(signal="Zprime")


def _damaged_copy(events, path):
    """An HDF5 file whose header is intact but whose compressed event chunks are overwritten
    half-way through: the damage shows only when those events are read."""
    with h5py.File(path, "w") as f:
        f.create_dataset("Particles", data=events, chunks=(100, 19, 4), compression="gzip")
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\x00\xff" * (size // 8))
    return path


def test_a_truncated_file_mid_stream_names_the_file_and_events(tmp_path):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from sklearn_aclr import AnomalyCLRTransformer, EventScaler

    events = make_adc_events(1000, random_state=0)[0]
    path = _damaged_copy(events, tmp_path / "cut.h5")
    stream = ADC2021Stream(path)  # the header is intact: the damage shows when reading
    for estimator in (EventScaler(), AnomalyCLRTransformer(**TINY_ENCODER, max_epochs=1)):
        with pytest.raises(OSError, match=r"Reading events \d+ to \d+ of '.*cut.h5' failed"):
            estimator.fit(stream)
        with pytest.raises(NotFittedError):
            check_is_fitted(estimator)


def test_invalid_events_mid_stream_name_the_file_and_events(tmp_path):
    events = make_adc_events(300, random_state=0)[0]
    events[250, 9, 0] = np.nan
    stream = ADC2021Stream(_write(tmp_path / "nan.h5", events))
    with pytest.raises(ValueError, match=r"nan.h5', events 200 to 299 .*NaN"):
        stream[200:300]
    from sklearn_aclr import EventScaler

    with pytest.raises(ValueError, match=r"nan.h5', events 0 to 299 .*1 event"):
        EventScaler().fit(stream)


def _with_invalid_events(n=300):
    """Events with three invalid ones: a NaN (50), an impossible class id (120), inf (251)."""
    events = make_adc_events(n, random_state=0)[0]
    events[50, 9, 0] = np.nan
    events[120, 9, 3] = 7.0
    events[251, 0, 0] = np.inf
    return events


def test_invalid_events_error_names_the_first_offending_one_and_the_count(tmp_path):
    events = _with_invalid_events()
    events[120, 9, 3] = 4.0  # only the non-finite ones
    stream = ADC2021Stream(_write(tmp_path / "bad.h5", events))
    with pytest.raises(ValueError, match=r"2 event\(s\) contain NaN or infinite values, the "
                                         r"first is event 50"):
        stream[0:300]


def test_a_stream_can_skip_invalid_events_and_says_how_many(tmp_path):
    from sklearn_aclr import EventScaler
    from sklearn_aclr.exceptions import InvalidEventsWarning

    events = _with_invalid_events()
    path = _write(tmp_path / "bad.h5", events)
    with pytest.warns(InvalidEventsWarning, match=r"Skipped 3 invalid event\(s\) of the 280 .*"
                                                  r"the first: event 50"):
        stream = ADC2021Stream(path, start=20, invalid="skip")
    kept = np.delete(events[20:], [50 - 20, 120 - 20, 251 - 20], axis=0)
    assert len(stream) == 277 and stream.n_skipped_ == 3
    assert stream.skipped_.tolist() == [50, 120, 251]
    np.testing.assert_array_equal(stream[:], kept)
    np.testing.assert_array_equal(stream[25:240], kept[25:240])
    np.testing.assert_array_equal(np.stack(stream.__getitems__([230, 3, 100])),
                                  kept[[230, 3, 100]])
    np.testing.assert_array_equal(stream[-1], kept[-1])
    # Estimators see only the valid events: the same fit as on the cleaned array.
    np.testing.assert_allclose(EventScaler().fit(stream).transform(stream),
                               EventScaler().fit(kept).transform(kept))
    assert "invalid='skip'" in repr(stream)
    with pytest.raises(ValueError, match="invalid must be 'raise' or 'skip'"):
        ADC2021Stream(path, invalid="drop")


def test_skipping_on_a_clean_file_serves_every_event_without_a_warning(tmp_path):
    events = make_adc_events(100, random_state=0)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stream = ADC2021Stream(_write(tmp_path / "clean.h5", events), invalid="skip")
    assert len(stream) == 100 and stream.n_skipped_ == 0
    np.testing.assert_array_equal(stream[:], events)
