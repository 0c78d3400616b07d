"""A stand-in FAVE stage, run inside the built base image by scripts/test/e2e-image.sh.

It imports every shared package of the image, does a little real work with the native ones (so a missing
system library such as libsndfile, libGL or ffmpeg fails here rather than in a function), and prints one
JSON log line through the image's own logging helper (/opt/fave_common/logging_helper.py, on PYTHONPATH).
Exit status 0 only when everything worked; the script checks the line's fields.
"""

import importlib
import io
import json
import shutil
import subprocess
import sys

MODULES = ["numpy", "scipy", "librosa", "soundfile", "cv2", "onnxruntime", "boto3", "minio", "httpx", "pydantic"]


def main() -> int:
    versions = {}
    for name in MODULES:
        module = importlib.import_module(name)
        versions[name] = str(getattr(module, "__version__", "?"))

    import cv2
    import numpy as np
    import onnxruntime
    import scipy.signal
    import soundfile

    rate = 16_000
    tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, tone, rate, format="WAV")  # libsndfile
    buffer.seek(0)
    decoded, decoded_rate = soundfile.read(buffer, dtype="float32")
    peak_hz = float(np.argmax(np.abs(np.fft.rfft(decoded))) * decoded_rate / len(decoded))
    resampled = scipy.signal.resample_poly(decoded, 1, 2)
    ok, png = cv2.imencode(".png", np.zeros((8, 8, 3), dtype=np.uint8))  # OpenCV's native code
    ffmpeg = shutil.which("ffmpeg")
    ffmpeg_version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=True).stdout.split("\n")[0] if ffmpeg else None
    checks = {
        "soundfile_roundtrip_peak_hz": round(peak_hz),
        "resampled_samples": len(resampled),
        "cv2_png_bytes": len(png) if ok else 0,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
        "ffmpeg": ffmpeg_version,
        "python": sys.version.split()[0],
    }
    problems = []
    if checks["soundfile_roundtrip_peak_hz"] != 440:
        problems.append("soundfile round trip lost the 440 Hz tone")
    if checks["resampled_samples"] != rate // 2:
        problems.append("scipy resampling gave the wrong length")
    if not ok:
        problems.append("cv2.imencode failed")
    if ffmpeg_version is None:
        problems.append("ffmpeg is not on PATH")

    try:
        from logging_helper import log_event  # the image's own helper, from /opt/fave_common
    except ImportError:
        def log_event(stage, event, level="info", **fields):
            print(json.dumps({"level": level, "stage": stage, "event": event, **fields}), flush=True)
        helper = "inline"
    else:
        helper = "logging_helper"
    event = "imports-ok" if not problems else "imports-failed"
    log_event("e2e-sample", event, level="info" if not problems else "error",
              helper=helper, versions=versions, checks=checks, problems=problems)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
