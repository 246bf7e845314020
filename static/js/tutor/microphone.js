// The microphone: getUserMedia, with a notice when it cannot be had (the learner can still
// type), and the level meter.

export class Microphone {
  // `notify(message)` tells the learner; `isMuted()` zeroes the meter while muted.
  // `meter` is the fill; its parent is the role="meter" element whose aria-valuenow follows.
  constructor({ meter, notify, isMuted }) {
    this.meter = meter;
    this.track = meter.closest("[role=meter]");
    this.shown = 0;
    this.notify = notify;
    this.isMuted = isMuted;
    this.stream = null;
    this.audioContext = null;
    this.meterFrame = null;
    // Asked once, when the page loads, so "Start" does not wait for the browser's answer; the
    // status it gives keeps its `state` current when the learner allows or blocks later.
    this.permission = askPermission();
  }

  // The stream, opened if need be (null: none to be had).
  async ensure() {
    if (!this.stream) this.stream = await this.open();
    return this.stream;
  }

  // The microphone and the key. When the microphone is already allowed, the key first and then
  // the microphone (side by side, each slowed the other on two cores: 20 ms for the microphone
  // against 6 ms after the key); else the learner answers the browser's prompt first, so the
  // key does not age meanwhile.
  async openWith(mintKey) {
    this.stop(); // a stream left over from a session that failed
    const status = await this.permission;
    if (status && status.state === "granted") {
      const key = await mintKey();
      this.stream = await this.open();
      return key;
    }
    this.stream = await this.open();
    return mintKey();
  }

  async open() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.notify("This browser gives no microphone access here. You can still type to the tutor.");
      return null;
    }
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    } catch (err) {
      const name = err && err.name;
      if (name === "NotAllowedError" || name === "SecurityError") {
        this.notify("Microphone access was denied. Allow it in your browser's site settings to speak; you can still type.");
      } else if (name === "NotFoundError" || name === "OverconstrainedError") {
        this.notify("No microphone was found. Plug one in to speak; you can still type.");
      } else {
        this.notify("The microphone could not be opened. You can still type to the tutor.");
      }
      return null;
    }
  }

  // The meter starts with the conversation, so it does not compete with connecting.
  startMeter() {
    if (!this.stream || this.audioContext) return;
    const AudioCtx = window.AudioContext || window.webkitAudioContext;
    if (!AudioCtx) return;
    this.audioContext = new AudioCtx();
    const analyser = this.audioContext.createAnalyser();
    analyser.fftSize = 512;
    this.audioContext.createMediaStreamSource(this.stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const draw = () => {
      if (!this.audioContext) return;
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const rms = Math.sqrt(sum / samples.length);
      const level = this.isMuted() ? 0 : Math.min(1, rms * 4);
      this.show(Math.round(level * 100));
      this.meterFrame = requestAnimationFrame(draw);
    };
    draw();
  }

  // The fill's width, and the value assistive technology reads (in steps of 10, so it is not
  // re-read every frame).
  show(percent) {
    this.meter.style.width = `${percent}%`;
    this.meter.style.setProperty("--level", `${percent}%`); // a phone's upright meter
    const step = Math.round(percent / 10) * 10;
    if (this.track && step !== this.shown) {
      this.shown = step;
      this.track.setAttribute("aria-valuenow", String(step));
    }
  }

  stop() {
    if (this.meterFrame) cancelAnimationFrame(this.meterFrame);
    if (this.audioContext) this.audioContext.close();
    this.audioContext = null;
    this.show(0);
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
  }
}

// The microphone's PermissionStatus, or null when this browser cannot say (then: ask first).
async function askPermission() {
  try {
    return (navigator.permissions && (await navigator.permissions.query({ name: "microphone" }))) || null;
  } catch (_) {
    return null;
  }
}
