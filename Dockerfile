# BackgroundFX Studio as a Hugging Face Docker Space (or any container host).
# Spaces' conventions: a non-root user with uid 1000, the app in $HOME/app, port 7860.
# Installation is exactly scripts/setup.sh, the same script the README and CI use.
FROM python:3.11-bookworm

# Debian's ffmpeg: Gradio uses ffprobe/ffmpeg (when present) to check returned videos play in
# browsers. The studio's own encoding uses PyAV's bundled FFmpeg and does not need it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 user
USER 1000
ENV HOME=/home/user \
    PYTHONUNBUFFERED=1 \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    BGFX_PORT=7860
WORKDIR /home/user/app

# Dependencies first (a layer that survives code changes): setup.sh hashes these two files.
COPY --chown=user requirements.txt ./
COPY --chown=user scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh

COPY --chown=user . .
ENV PATH=/home/user/app/.venv/bin:$PATH
EXPOSE 7860
CMD ["python", "app.py"]
