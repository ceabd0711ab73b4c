"""The studio: the Gradio Blocks layout, the event wiring, the queue and ``launch``.

Three steps, top to bottom: ① load a clip or photo, ② click on the subject (the mask appears at
once), ③ pick a background and process. Heavy events (the job, generated backgrounds) share the
concurrency id "gpu" with ``settings.gpu_concurrency`` slots; clicks have their own small pool
("preview") so they stay fast while long jobs wait; light events (cancel, undo of state,
device panel) skip the limits. The queue is bounded by ``settings.queue_size``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from app_config import OUTPUT_FORMATS, QUALITIES, Settings, get_settings
from core.exceptions import ConfigError
from ui import state as st
from ui.api import StudioAPI
from ui.handlers import Handlers
from ui.theme import CSS, HEADER, theme

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLE_CLIPS = sorted(p for p in (ASSETS / "examples").iterdir() if p.suffix in (".mp4", ".jpg"))
EXAMPLE_BACKGROUNDS = sorted((ASSETS / "backgrounds").glob("*.jpg"))
DELETE_CACHE = (1800, 3600)  # every 30 min, delete Gradio's cached uploads/outputs older than 1 h
PREVIEW_CONCURRENCY = 4  # clicks at once: the embedding is cached, a click is a light decode
# Video files whose suffix the MIME table does not file under video/* (.ts: Qt translations, .3gp:
# audio, .mts: a 3D model, .m2ts/.vob: nothing), so the "video" file type alone refuses them
# although FFmpeg reads them all: camcorders (AVCHD), old phones, broadcast and DVD.
VIDEO_SUFFIXES = [".ts", ".mts", ".m2ts", ".m2t", ".3gp", ".3g2", ".mxf", ".vob", ".mod", ".tod", ".y4m"]
MEDIA_TYPES = ["video", "image", *VIDEO_SUFFIXES]
ENGINES = (("Auto (best available)", "auto"), ("Embedded (no weights)", "embedded"), ("SAM2 + MatAnyone", "sam2"))


def _end_state(value: st.SessionState | None) -> None:
    """gr.State's delete_callback: the session expired or its tab closed."""
    if isinstance(value, st.SessionState) and value.session:
        st.end_session(value.session)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    """The whole studio as a ``gr.Blocks`` (queue configured); ``launch`` serves it."""
    settings = settings or get_settings()
    h = Handlers(settings)
    api = StudioAPI(settings)
    with gr.Blocks(title="BackgroundFX Studio", delete_cache=DELETE_CACHE, fill_width=True) as demo:
        state = gr.State(st.SessionState(), delete_callback=_end_state)
        bg_kind = gr.State("blur")
        gr.HTML(HEADER)
        with gr.Row(equal_height=False):
            # ---------------- left: media and the frame to click on --------------------
            with gr.Column(scale=3, min_width=520):
                with gr.Row(equal_height=True):
                    media = gr.File(label="① Video or photo", file_types=MEDIA_TYPES, type="filepath",
                                    height=110, scale=3, elem_id="media-input")
                    with gr.Column(scale=2, min_width=200):
                        gr.Examples([[str(p)] for p in EXAMPLE_CLIPS], inputs=[media], label="Examples",
                                    example_labels=[p.stem for p in EXAMPLE_CLIPS])
                status = gr.Markdown(h._status(st.SessionState()), elem_id="status")
                with gr.Row(equal_height=True):
                    mode = gr.Radio(list(st.MODES), value=st.MODE_SUBJECT, label="② A click adds", scale=3,
                                    elem_id="click-mode")
                    subject = gr.Radio([("Subject 1", 1)], value=1, label="Clicks belong to", scale=2,
                                       elem_id="subject")
                    add_subject = gr.Button("+ subject", size="sm", scale=0, min_width=90)
                frame = gr.Image(label="Prompt frame: click on the subject", type="numpy", format="png",
                                 interactive=False, height=560, elem_id="frame", buttons=["fullscreen"],
                                 placeholder="Load a video or a photo to begin")
                slider = gr.Slider(0, 1, value=0, step=1, label="Frame (clicks on a later frame correct the "
                                   "matte from there)", visible=False, elem_id="frame-slider")
                with gr.Row():
                    undo = gr.Button("↶ Undo click", size="sm")
                    clear = gr.Button("✕ Clear this frame", size="sm")
                    matte = gr.Button("◐ Matte here", size="sm", visible=False, elem_id="matte-here")
            # ---------------- right: background, options, process -----------------------
            with gr.Column(scale=2, min_width=380):
                gr.Markdown("#### Background")
                with gr.Tabs(selected="blur", elem_id="bg-tabs"):
                    with gr.Tab("Blur", id="blur") as tab_blur:
                        blur = gr.Slider(3, 101, value=25, step=2, label="Blur strength (px)")
                    with gr.Tab("Colour", id="color") as tab_color:
                        color = gr.ColorPicker("#00b140", label="Colour")
                    with gr.Tab("Image", id="image") as tab_image:
                        bg_image = gr.Image(type="filepath", label="Background image", sources=["upload"],
                                            height=180)
                        gr.Examples([[str(p)] for p in EXAMPLE_BACKGROUNDS], inputs=[bg_image],
                                    label="Examples", examples_per_page=8)
                    with gr.Tab("Video", id="video") as tab_video:
                        bg_video = gr.File(label="Background video (loops)", file_types=["video", *VIDEO_SUFFIXES],
                                           type="filepath", height=110)
                    with gr.Tab("Prompt", id="prompt") as tab_prompt:
                        with gr.Row(equal_height=True):
                            bg_prompt = gr.Textbox(label="Describe the background", scale=4,
                                                   placeholder="a sunny beach, soft focus")
                            bg_seed = gr.Number(0, label="Seed", precision=0, scale=1, min_width=80)
                        generate = gr.Button("Generate", size="sm")
                        generated = gr.Image(label="Generated", interactive=False, height=160, format="png")
                        generated_note = gr.Markdown()
                    with gr.Tab("Pattern", id="procedural") as tab_procedural:
                        procedural = gr.Radio(["gradient", "bokeh", "studio"], value="studio", label="Style")
                    with gr.Tab("None", id="transparent") as tab_transparent:
                        gr.Markdown("No background: the downloads keep the alpha (WebM VP9, ProRes 4444 MOV, "
                                    "an animated WebP sticker, PNG for photos). The preview shows it over a "
                                    "checkerboard.")
                bg_preview = gr.Image(label="Preview of the result", interactive=False, format="png", height=260,
                                      elem_id="bg-preview", placeholder="Click on the subject to see the result")
                with gr.Accordion("Options", open=False, elem_id="options"):
                    with gr.Row():
                        quality = gr.Radio(list(QUALITIES), value=settings.quality, label="Quality")
                        engine = gr.Dropdown(list(ENGINES), value=settings.engine, label="Engine")
                    engine_info = gr.Markdown("**Engine:** chosen at the first click", elem_id="engine-info")
                    with gr.Row():
                        feather = gr.Slider(0, 10, value=0, step=0.5, label="Feather (px)")
                        choke = gr.Slider(-5, 5, value=0, step=0.5, label="Choke (px)")
                    with gr.Row():
                        despill = gr.Slider(0, 1, value=0, step=0.05, label="Despill")
                        wrap = gr.Slider(0, 1, value=0, step=0.05, label="Light wrap")
                    with gr.Group(visible=False) as video_options:
                        with gr.Row():
                            trim_start = gr.Number(0, label="Trim start (s)", minimum=0)
                            trim_end = gr.Number(0, label="Trim end (s, 0 = to the end)", minimum=0)
                        keep_audio = gr.Checkbox(True, label="Keep the original sound")
                        formats = gr.CheckboxGroup(list(OUTPUT_FORMATS), value=list(OUTPUT_FORMATS[:3]),
                                                   label="Outputs")
                with gr.Row():
                    process = gr.Button("③ Process", variant="primary", size="lg", scale=3, elem_id="process")
                    cancel = gr.Button("Cancel", variant="stop", size="lg", scale=1, elem_id="cancel")
                job_status = gr.Markdown(elem_id="job-status")
        # ---------------- results ---------------------------------------------------------
        gr.Markdown("#### Results")
        with gr.Row(equal_height=False):
            result_video = gr.Video(label="Composite", interactive=False, elem_id="result-video", height=300)
            result_alpha = gr.Video(label="Alpha matte", interactive=False, elem_id="result-alpha", height=300)
            with gr.Column(visible=False) as photo_results:
                result_photo = gr.Image(label="Result", interactive=False, format="png", height=300,
                                        elem_id="result-photo")
        with gr.Row(equal_height=False):
            downloads = gr.File(label="Downloads (composite, alpha, transparent, green screen, sticker, report)",
                                file_count="multiple", interactive=False, elem_id="downloads", height=180)
            report = gr.JSON(label="Job report", open=False, elem_id="report")
        with gr.Accordion("Device and memory", open=False):
            device = gr.Markdown(h.device_panel())
            refresh = gr.Button("Refresh", size="sm")

        # ---------------- wiring ------------------------------------------------------------
        click_opts = {"concurrency_id": "preview", "concurrency_limit": PREVIEW_CONCURRENCY,
                      "api_visibility": "private"}
        gpu_opts = {"concurrency_id": "gpu", "concurrency_limit": settings.gpu_concurrency}
        bg_inputs = [state, bg_kind, color, blur, bg_image, bg_video, procedural, feather, choke, despill, wrap,
                     engine, quality]
        frame_out = [state, frame, engine_info, status]

        def then_preview(event):
            return event.then(h.background_preview, bg_inputs, bg_preview, **click_opts)

        media.change(h.load_media, [media, state],
                     [state, frame, slider, status, video_options, photo_results, matte],
                     **click_opts).then(lambda: (None, None), None, [bg_preview, job_status],
                                        api_visibility="private")
        then_preview(slider.release(h.show_frame, [slider, state, engine, quality], frame_out, **click_opts))
        then_preview(frame.select(h.click, [state, mode, subject, engine, quality], frame_out, **click_opts))
        then_preview(undo.click(h.undo, [state, engine, quality], frame_out, **click_opts))
        then_preview(clear.click(h.clear, [state, engine, quality], frame_out, **click_opts))
        then_preview(matte.click(h.show_matte, [state, engine, quality], [state, frame, status], **click_opts))
        add_subject.click(h.add_subject, [state], [state, subject], api_visibility="private",
                          concurrency_limit=None)
        for tab, kind in [(tab_blur, "blur"), (tab_color, "color"), (tab_image, "image"), (tab_video, "video"),
                          (tab_prompt, "prompt"), (tab_procedural, "procedural"),
                          (tab_transparent, "transparent")]:
            then_preview(tab.select(lambda k=kind: k, None, bg_kind, api_visibility="private", queue=False))
        for control in (color, bg_image, bg_video, procedural):
            control.change(h.background_preview, bg_inputs, bg_preview, **click_opts)
        for control in (blur, feather, choke, despill, wrap):
            control.release(h.background_preview, bg_inputs, bg_preview, **click_opts)
        then_preview(generate.click(h.generate_background, [state, bg_prompt, bg_seed],
                                    [state, generated, generated_note], api_visibility="private",
                                    api_name="ui_generate_background", **gpu_opts))
        process_event = process.click(h.process, [*bg_inputs[:-2], engine, quality, formats, trim_start, trim_end, keep_audio,
                                  bg_seed],
                      [result_video, result_alpha, result_photo, downloads, report, job_status, device],
                      api_visibility="private", show_progress_on=[result_video], **gpu_opts)
        # A queued job is dropped from the queue (cancels=); a running one stops at its next chunk (h.cancel).
        cancel.click(h.cancel, [state], job_status, api_visibility="private", concurrency_limit=None,
                     cancels=[process_event])
        refresh.click(h.device_panel, None, device, api_visibility="private", concurrency_limit=None)
        demo.unload(h.unload)
        _api_endpoints(api, gpu_opts, click_opts)
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=1)
    return demo


def _api_endpoints(api: StudioAPI, gpu_opts: dict, click_opts: dict) -> None:
    """Hidden components + events that exist only to be called by name from gradio_client."""
    with gr.Column(visible=False):
        media = gr.File(label="media", type="filepath")
        prompts = gr.Textbox(label="prompts (JSON)")
        frame_index = gr.Number(0, label="frame_index", precision=0)
        mask = gr.File(label="mask (PNG, white = subject)", type="filepath")
        background = gr.Textbox("blur:25", label="background")
        background_file = gr.File(label="background_file", type="filepath")
        engine = gr.Textbox("auto", label="engine")
        quality = gr.Textbox("balanced", label="quality")
        formats = gr.CheckboxGroup(list(OUTPUT_FORMATS), value=list(OUTPUT_FORMATS[:3]), label="formats")
        edges = [gr.Number(0, label=n) for n in ("feather", "choke", "despill", "light_wrap")]
        trim = [gr.Number(0, label="trim_start"), gr.Number(0, label="trim_end")]
        keep_audio = gr.Checkbox(True, label="keep_audio")
        seed = gr.Number(0, label="seed", precision=0)
        overlay = gr.Image(label="overlay", format="png", type="numpy")
        alpha = gr.Image(label="alpha", format="png", type="numpy", image_mode="L")
        info = gr.JSON(label="info")
        composite = gr.Video(label="composite")
        alpha_video = gr.Video(label="alpha_video")
        files = gr.File(label="files", file_count="multiple")
        report = gr.JSON(label="report")
        cutout = gr.Image(label="cutout", format="png", type="filepath", image_mode="RGBA")
        composite_png = gr.Image(label="composite_png", format="png", type="filepath")
        gen_prompt = gr.Textbox(label="prompt")
        gen_size = [gr.Number(1280, label="width", precision=0), gr.Number(720, label="height", precision=0)]
        gen_image = gr.Image(label="image", format="png", type="numpy")
        gen_info = gr.JSON(label="info")
        trigger = gr.Button("api")
    trigger.click(api.preview_mask, [media, frame_index, prompts, mask, engine, quality], [overlay, alpha, info],
                  api_name="preview_mask", concurrency_id=click_opts["concurrency_id"],
                  concurrency_limit=click_opts["concurrency_limit"])
    trigger.click(api.replace_background,
                  [media, prompts, frame_index, mask, background, background_file, engine, quality, formats,
                   *edges, *trim, keep_audio, seed],
                  [composite, alpha_video, files, report], api_name="replace_background", **gpu_opts)
    trigger.click(api.cutout_image,
                  [media, prompts, mask, background, background_file, engine, quality, *edges],
                  [cutout, composite_png, report], api_name="cutout_image", **gpu_opts)
    trigger.click(api.generate_background, [gen_prompt, seed, *gen_size], [gen_image, gen_info],
                  api_name="generate_background", **gpu_opts)


def launch(settings: Settings | None = None, port: int | None = None, share: bool = False,
           **overrides) -> gr.Blocks:
    """Serve the studio (``python app.py``): ``port`` defaults to the settings' (BGFX_PORT, 7860);
    ``overrides`` go to ``Blocks.launch`` (tests pass server_name and prevent_thread_lock)."""
    settings = settings or get_settings()
    try:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # said at start, not as an internal error
        raise ConfigError(f"the studio's work folder {str(settings.work_dir)!r} cannot be made: "
                          f"{exc.strerror or exc}", "set BGFX_WORK_DIR to a folder it may write in "
                          "(see README, Settings)") from None
    demo = build_demo(settings)
    options = {
        "server_name": None,  # GRADIO_SERVER_NAME (0.0.0.0 in Docker/Spaces), else 127.0.0.1
        "server_port": port or settings.port,
        "share": share,
        "max_file_size": f"{settings.max_upload_mb}mb",
        # None: examples, uploads and outputs all reach the browser through Gradio's own cache.
        "allowed_paths": [],
        "theme": theme(),
        "css": CSS,
        "footer_links": ["api", "gradio"],
        "show_error": True,
    }
    options.update(overrides)
    logger.info("studio on port %s (queue %d, gpu slots %d)", options["server_port"], settings.queue_size,
                settings.gpu_concurrency)
    try:
        demo.launch(**options)
    except OSError as exc:  # Gradio's "Cannot find empty port": another server listens there
        if "port" not in str(exc).lower():
            raise
        raise ConfigError(f"port {options['server_port']} is taken (another studio or server is listening there)",
                          "stop that one, or set BGFX_PORT to a free port") from None
    return demo
