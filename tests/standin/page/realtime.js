// A minimal WebRTC client of the Realtime API (GA), for the stand-in's browser tests.
window.events = [];
window.state = { channel: "new", error: null, callId: null };
let pc = null;
let channel = null;

window.connect = async function ({ url, key, microphone }) {
  pc = new RTCPeerConnection();
  channel = pc.createDataChannel("oai-events");
  channel.onopen = () => { window.state.channel = "open"; };
  channel.onclose = () => { window.state.channel = "closed"; };
  channel.onmessage = (message) => { window.events.push(JSON.parse(message.data)); };
  pc.ontrack = (event) => { document.getElementById("tutor").srcObject = event.streams[0]; };
  if (microphone) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    pc.addTrack(stream.getAudioTracks()[0], stream);
  } else {
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  await pc.setLocalDescription(await pc.createOffer());
  const response = await fetch(url, {
    method: "POST",
    body: pc.localDescription.sdp,
    headers: {
      Authorization: `Bearer ${key}`,
      "Content-Type": "application/sdp",
      "X-OpenAI-Agents-SDK": "parlance-tests",
    },
  });
  if (response.status !== 201) {
    window.state.error = await response.text();
    throw new Error(`POST /calls answered ${response.status}`);
  }
  window.state.callId = response.headers.get("Location").split("/").pop();
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  return window.state.callId;
};

window.send = function (event) { channel.send(JSON.stringify(event)); };

window.has = function (type, since = 0) { return window.events.slice(since).some((e) => e.type === type); };

window.inboundAudio = async function () {
  const stats = await pc.getStats();
  let result = { packets: 0, energy: 0 };
  stats.forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "audio") {
      result = { packets: report.packetsReceived || 0, energy: report.totalAudioEnergy || 0 };
    }
  });
  return result;
};

window.hangupLocally = function () { pc.close(); };
