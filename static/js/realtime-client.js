// WebRTC client for the Realtime API (GA): one peer connection, the
// `oai-events` data channel, the microphone up and the tutor's voice down.
// Works with OpenAI and with the local stand-in: only `callsUrl` differs.

export class RealtimeError extends Error {
  constructor(message, { status = 0, code = "", sessionId = null } = {}) {
    super(message);
    this.name = "RealtimeError";
    this.status = status;
    this.code = code;
    // With `session_live`: the learner's open session, which this page may continue.
    this.sessionId = sessionId;
  }
}

export class RealtimeClient extends EventTarget {
  // `ledger` (optional) gives every client event its `event_id` (see tutor/turn-taking.js).
  constructor({ audioElement, ledger = null } = {}) {
    super();
    this.audioElement = audioElement || null;
    this.ledger = ledger;
    this.pc = null;
    this.channel = null;
    this.callId = "";
    this.closed = false;
  }

  // Connect with a minted `ek_` key. `micStream` may be null (typing only). `onCall` hears
  // the call id as soon as the API answers, before the media and the channel are up, so a
  // call that then fails to connect is still known (and can be hung up) by the server.
  // With `server` set ({sessionId, csrfToken, pageId}) there is no key: the offer goes to
  // Parlance's `callsUrl`, which creates the call with the server's key and answers it.
  async connect({ callsUrl, clientSecret, micStream, onCall = null, server = null }) {
    this.closed = false;
    const certificate = await pageCertificate();
    const pc = new RTCPeerConnection(certificate ? { certificates: [certificate] } : undefined);
    this.pc = pc;
    pc.addEventListener("track", (event) => {
      if (this.audioElement) this.audioElement.srcObject = event.streams[0] || new MediaStream([event.track]);
    });
    pc.addEventListener("connectionstatechange", () => {
      this.dispatchEvent(new CustomEvent("connectionstate", { detail: pc.connectionState }));
    });

    const micTrack = micStream ? micStream.getAudioTracks()[0] : null;
    if (micTrack) pc.addTrack(micTrack, micStream);
    else pc.addTransceiver("audio", { direction: "recvonly" });

    const channel = pc.createDataChannel("oai-events");
    this.channel = channel;
    const opened = new Promise((resolve, reject) => {
      channel.addEventListener("open", resolve, { once: true });
      channel.addEventListener("close", () => reject(new RealtimeError("The event channel closed.")), { once: true });
    });
    // Awaited only once the call is set up; a connect that fails before then must not leave
    // its rejection unhandled.
    opened.catch(() => {});
    channel.addEventListener("message", (message) => this._onMessage(message.data));
    channel.addEventListener("close", () => {
      if (!this.closed) this.dispatchEvent(new CustomEvent("channelclose"));
    });

    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    let response;
    try {
      response = await fetch(callsUrl, server ? serverCallRequest(server, offer.sdp) : {
        method: "POST",
        body: offer.sdp,
        headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${clientSecret}` },
      });
    } catch (err) {
      this.close();
      throw new RealtimeError("Could not reach the voice service. Check your connection and try again.");
    }
    if (!response.ok) {
      const detail = await readError(response);
      this.close();
      throw new RealtimeError(detail.message, { status: response.status, code: detail.code });
    }
    let answer;
    if (server) {
      const created = await response.json().catch(() => ({}));
      this.callId = typeof created.call_id === "string" ? created.call_id : "";
      answer = typeof created.sdp === "string" ? created.sdp : "";
    } else {
      const location = response.headers.get("Location") || "";
      this.callId = location.split("/").filter(Boolean).pop() || "";
      answer = await response.text();
    }
    if (onCall) onCall(this.callId);
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    await withTimeout(opened, 15000, "The voice connection did not open in time.");
    return this.callId;
  }

  send(event) {
    if (!this.channel || this.channel.readyState !== "open") return false;
    this.channel.send(JSON.stringify(this.ledger ? this.ledger.stamp(event) : event));
    return true;
  }

  setMuted(muted) {
    if (!this.pc) return;
    for (const sender of this.pc.getSenders()) {
      if (sender.track && sender.track.kind === "audio") sender.track.enabled = !muted;
    }
  }

  // Stop the tutor mid-sentence: cancel the response, then drop queued audio.
  interrupt() {
    this.send({ type: "response.cancel" });
    this.send({ type: "output_audio_buffer.clear" });
  }

  close() {
    this.closed = true;
    if (this.channel) {
      try { this.channel.close(); } catch (_) { /* already closed */ }
    }
    // The microphone belongs to the page: it is not stopped here.
    if (this.pc) this.pc.close();
    this.channel = null;
    this.pc = null;
  }

  _onMessage(data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch (_) {
      return;
    }
    if (event && typeof event.type === "string") {
      this.dispatchEvent(new CustomEvent("serverevent", { detail: event }));
    }
  }
}

// The DTLS certificate, made once per page, when it loads: a peer connection made without one
// generates its own, and its first createOffer waits for that on the way to the call.
let certificate = null;
function pageCertificate() {
  const made = certificate;
  certificate = null;
  if (typeof RTCPeerConnection === "undefined" || !RTCPeerConnection.generateCertificate) return Promise.resolve(null);
  certificate = (made || Promise.resolve(null)).then((cert) =>
    cert && cert.expires > Date.now() + 60000 ? cert : RTCPeerConnection.generateCertificate({ name: "ECDSA", namedCurve: "P-256" }),
  ).catch(() => null);
  return certificate;
}
pageCertificate();

// The offer to Parlance's own calls URL: the session, the page, and the CSRF token.
function serverCallRequest({ sessionId, csrfToken, pageId }, sdp) {
  return {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify({ session_id: sessionId, sdp, page: pageId }),
  };
}

async function readError(response) {
  const fallback = {
    message: `The voice service refused the connection (HTTP ${response.status}).`,
    code: "",
  };
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) {
      return { message: body.error.message, code: body.error.code || "" };
    }
  } catch (_) { /* not JSON */ }
  return fallback;
}

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new RealtimeError(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
