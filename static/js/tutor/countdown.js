// The time left in the session, counted down from the server's `seconds_left`.

export function formatLeft(seconds) {
  const left = Math.max(0, Math.round(seconds));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left`;
}

export class Countdown {
  constructor(element) {
    this.element = element;
    this.timer = null;
  }

  start(secondsLeft) {
    this.stop();
    if (!this.element || typeof secondsLeft !== "number") return;
    const deadline = Date.now() + secondsLeft * 1000;
    const render = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      this.element.textContent = formatLeft(left);
      this.element.classList.toggle("low", left <= 60);
    };
    render();
    this.element.hidden = false;
    this.timer = setInterval(render, 1000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.element) this.element.hidden = true;
  }
}
