"""ActionFlows: check -> confirm -> act, for the fleet screen's keys.

Each flow asks the monitor what the action would do (who is allowed, who is refused and
why, the runbook's warnings, the consequence), shows it in a confirmation, and sends it
in a worker. Refusals are said at once, with the runbook's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.worker import Worker

from wawp_tui.core import (
    CONSEQUENCES,
    DEFAULT_WAVE,
    FleetMonitor,
    Outcome,
    Report,
    Rollout,
    RolloutBusy,
    RolloutState,
    RolloutStateError,
    describe,
    plan,
)
from wawp_tui.launch import resume_command
from wawp_tui.ui.fleet_view import FleetView
from wawp_tui.ui.messages import ActionFinished, RolloutProgress
from wawp_tui.ui.screens.confirm import ChoiceScreen, ConfirmScreen
from wawp_tui.vocab import TITLES, Action, plural


def selection_scope(acted: int, hidden: int) -> str:
    """ "3 of 10 selected; 7 hidden by the filter are not included": what a bulk action
    takes when the filter hides part of the selection (only what is on screen)."""
    return f"{acted} of {acted + hidden} selected; {hidden} hidden by the filter are not included"


def _target_list(ids: list[str], label: Callable[[str], str], shown: int = 50) -> str:
    """ "Target: shop-eu (ID1)", or "Targets (12):" and one per line (the dialog scrolls
    through them; the question and the keys stay put)."""
    if len(ids) == 1:
        return f"Target: {label(ids[0])} ({ids[0]})"
    names = [f"  {label(i)} ({i})" for i in ids[:shown]]
    more = [f"  +{len(ids) - shown} more"] if len(ids) > shown else []
    return "\n".join([f"Targets ({len(ids)}):", *names, *more])


class ActionFlows:
    """The action, reset and rollout flows of one fleet screen."""

    def __init__(self, screen: FleetView, rollout_state_path: Path | None) -> None:
        self.screen = screen
        self.rollout_state_path = rollout_state_path
        #: The rollout under way, if any (W).
        self.rollout: Rollout | None = None
        self._resets: dict[str, Worker[None]] = {}

    @property
    def monitor(self) -> FleetMonitor:
        return self.screen.monitor

    def _label(self, instance_id: str) -> str:
        return self.monitor.state(instance_id).label

    # -- start / stop / restart / logout ---------------------------------------------

    def act(self, action: str, ids: list[str]) -> None:
        if not ids:
            hidden = self.screen.hidden_selected()
            self.screen.toast(f"The {plural(hidden, 'selected instance')} are hidden by the filter: "
                              "nothing is sent. Clear the filter (escape) to see them."
                              if hidden else "No instance highlighted.", severity="warning")
            return
        check = self.monitor.check(action, ids)
        if not check.allowed:
            self._refused(action, check.refused)
            return
        # Those the runbook refuses now are skipped (the question names them): their
        # refusal is audited once, at the key press.
        self.monitor.record_refusals(action, check.refused)
        self.screen.app.push_screen(self._confirmation(action, ids),
                                    callback=lambda yes: self._confirmed(yes, action, check.allowed))

    def _refused(self, action: str, refused: list[Outcome]) -> None:
        """A key press refused for every target: said at once, audited once."""
        self.monitor.record_refusals(action, refused)
        title = TITLES[Action(action)]
        if len(refused) == 1:
            o = refused[0]
            text = f"{title} {self._label(o.instance_id)} refused: {o.message}"
        else:
            text = f"{title} refused for all {len(refused)}: {refused[0].message}"
        self.screen.toast(text, severity="warning", timeout=8)
        self.screen.log_line(text, ok=False)

    def _confirmation(self, action: str, ids: list[str]) -> ConfirmScreen:
        """The question: the targets by label (and whether they are the highlighted row),
        what the action does, the runbook's warnings and who is skipped, as of now: the
        body is taken again every second while the question is open."""
        first = self.monitor.check(action, ids)
        names = [self._label(i) for i in first.allowed]
        who = names[0] if len(names) == 1 else f"{len(names)} instances"
        highlighted = self.screen.highlighted_id()
        note = ""
        if ids != [highlighted]:
            shown = f" ({self._label(highlighted)})" if highlighted else ""
            note = (f"Acts on the {len(ids)} selected instance{'s' if len(ids) != 1 else ''}, not on "
                    f"the highlighted row{shown}." if highlighted not in ids else
                    f"Acts on all {len(ids)} selected instances, not only the highlighted row{shown}.")
        hidden = self.screen.hidden_selected()
        if hidden:
            note += f" {selection_scope(len(ids), hidden)}."

        def body() -> str:
            check = self.monitor.check(action, ids)
            parts = [_target_list(check.allowed, self._label)]
            if note:
                parts.append(note)
            parts += [check.consequence, *check.warnings]
            if check.refused:
                parts.append(f"Skipped ({len(check.refused)}): " + "; ".join(
                    f"{self._label(o.instance_id)}: {o.message}" for o in check.refused[:3]))
            if self.monitor.audit.error:
                parts.append(f"AUDIT LOG OFF ({self.monitor.audit.error}): this will not be recorded.")
            return "\n\n".join(parts)

        many = len(first.allowed) > 1
        return ConfirmScreen(f"{TITLES[Action(action)]} {who}?", body, enter_confirms=not many,
                             why_y=f"it acts on {len(first.allowed)} instances" if many else "")

    def _confirmed(self, yes: bool | None, action: str, ids: list[str]) -> None:
        if not yes:
            self.screen.log_line(f"{TITLES[Action(action)]} cancelled: nothing sent")
            return
        self.screen.run_worker(self._run(action, ids), group="actions", exit_on_error=False)

    async def _run(self, action: str, ids: list[str]) -> None:
        report: Report = await self.monitor.act(action, ids)
        self.screen.post_message(ActionFinished(report, len(ids)))

    # -- auto-heal -------------------------------------------------------------------

    def auto_heal(self) -> None:
        """a: off at once; on only after a confirmation that says what it will do on its
        own (restarts nobody confirms one by one)."""
        screen = self.screen
        text = self.monitor.auto_heal_refusal()
        if text is not None:
            screen.toast(text, severity="warning", timeout=8)
            screen.log_line(text, ok=False)
            return
        if screen.auto_heal:
            screen.auto_heal = False
            return

        def answered(yes: bool | None) -> None:
            if yes:
                screen.auto_heal = True
            else:
                screen.log_line("auto-heal left off")

        screen.app.push_screen(ConfirmScreen("Turn auto-heal ON?", self.monitor.explain_auto_heal(),
                                             enter_confirms=False,
                                             why_y="auto-heal then acts by itself"),
                               callback=answered)

    # -- the full reset --------------------------------------------------------------

    def reset(self, ids: list[str]) -> None:
        waiting = [i for i in ids if self.monitor.state(i).reset_start_at is not None]
        if waiting:
            def cancel(yes: bool | None) -> None:
                if yes:
                    for i in waiting:
                        worker = self._resets.pop(i, None)
                        if worker is not None:
                            worker.cancel()
            self.screen.app.push_screen(ConfirmScreen(
                "Cancel the full reset?", "The instance stays STOPPED; press s later to start it."),
                callback=cancel)
            return
        if not ids:
            return
        check = self.monitor.check(Action.RESET, ids)
        if not check.allowed:
            self._refused(Action.RESET, check.refused)
            return
        self.monitor.record_refusals(Action.RESET, check.refused)

        def go(yes: bool | None) -> None:
            if not yes:
                self.screen.log_line("Full reset cancelled: nothing sent")
                return
            for i in check.allowed:
                self._resets[i] = self.screen.run_worker(self._run(Action.RESET, [i]),
                                                         group="reset", exit_on_error=False)

        self.screen.app.push_screen(self._confirmation(Action.RESET, ids), callback=go)

    # -- rollouts (W) ----------------------------------------------------------------

    def waves(self) -> None:
        if self.rollout is not None:
            self._offer_cancel(self.rollout)
            return
        screen = self.screen
        ids = [i for i in screen.visible_ids() if i in screen.selected] if screen.selected \
            else screen.visible_ids()
        if not ids:
            hidden = screen.hidden_selected()
            screen.toast(f"The {plural(hidden, 'selected instance')} are hidden by the filter: "
                         "clear it (escape) to roll them out." if hidden else
                         "No instances to roll out: select some (space) or filter (/).",
                         severity="warning")
            return
        if self.monitor.read_only:
            self._refused(Action.RESTART, [Outcome(ids[0], False, "read-only mode: nothing sent", True)])
            return
        hidden = screen.hidden_selected()
        scope = selection_scope(len(ids), hidden) if hidden else \
            "selected" if screen.selected else ("filtered" if screen.filter_text else "ALL")
        choices = {"r": (Action.RESTART.value, "restart in waves (maintenance pulse, after a webhook/proxy change)"),
                   "x": (Action.STOP.value, "stop in waves (end of the business day)"),
                   "s": (Action.START.value, "start in waves")}

        def chosen(action: str | None) -> None:
            if not action:
                return
            state = plan(action, ids, DEFAULT_WAVE)
            unfinished = self._unfinished_note()
            body = "\n\n".join(part for part in (_target_list(ids, self._label), describe(state),
                                                  CONSEQUENCES[action], unfinished) if part)
            screen.app.push_screen(
                ConfirmScreen(f"Rollout: {action} {plural(len(ids), 'instance')} ({scope})?", body,
                              enter_confirms=False, why_y="a rollout acts on many instances"),
                callback=lambda yes: self._start_rollout(state) if yes else None)

        screen.app.push_screen(ChoiceScreen(f"Rolling operation on {plural(len(ids), 'instance')} ({scope})",
                                            choices), callback=chosen)

    def _unfinished_note(self) -> str:
        """A rollout saved unfinished (interrupted, halted, from the CLI or a cron job) that
        a new one would replace: said in the confirmation, with the way to finish it."""
        path = self.rollout_state_path
        if path is None or not path.exists():
            return ""
        try:
            saved = RolloutState.load(path)
        except (RolloutStateError, OSError):
            return f"The saved rollout in {path} is damaged; a new one replaces it."
        if saved.status not in ("running", "interrupted", "halted"):
            return ""
        total = sum(len(w) for w in saved.waves)
        return (f"This replaces the unfinished {saved.action} rollout saved in {path} "
                f"({len(saved.done)} of {total} done, {saved.status}). To finish that one "
                f"instead, answer n and run: {resume_command(saved.action, self.screen.rerun)}")

    def _offer_cancel(self, rollout: Rollout) -> None:
        def cancel(yes: bool | None) -> None:
            if yes:
                rollout.cancel_requested = True
                self.screen.log_line("rollout: cancel requested; it stops after the current wave")
        self.screen.app.push_screen(ConfirmScreen(
            "Cancel the rollout?", "It stops after the current wave; instances already done stay "
            f"done. Resume later with: {resume_command(rollout.state.action, self.screen.rerun)}"),
            callback=cancel)

    def _start_rollout(self, state: RolloutState) -> None:
        self.rollout = self.monitor.rollout(state, state_path=self.rollout_state_path,
                                            progress=self._progress)
        self.screen.run_worker(self._run_rollout(self.rollout), group="rollout", exit_on_error=False)

    async def _run_rollout(self, rollout: Rollout) -> None:
        try:
            final = await rollout.run()
        except RolloutBusy as exc:
            self.screen.post_message(RolloutProgress(f"rollout not started: {exc}", done=True, ok=False))
            return
        finally:
            self.rollout = None
        self.screen.post_message(RolloutProgress(final.summary(), done=True,
                                                 ok=final.status == "done"))

    def _progress(self, line: str) -> None:
        self.screen.post_message(RolloutProgress(line))

