"""Training rows, tokenized with the model's chat template, labels only on what the model must say.

* plan rows (phase 1): the planning prompt -> the numbered plan;
* trajectory rows (phases 2-3): one whole episode as one conversation (the exact messages the agent
  sees at run time, ``lamforge.agents.prompting.episode_messages``), loss on every assistant action
  line. One row per trajectory instead of one per step: the screen is not repeated at every step,
  which is most of the tokens.

Each row is ``{"input_ids": [...], "labels": [...]}`` with -100 on tokens that carry no loss, plus
``"action_spans"``: the (start, end) token range of each assistant turn, for the reward model and PPO.
"""

from __future__ import annotations

from lamforge.agents.prompting import episode_messages, plan_messages, render_plan
from lamforge.core.actions import ActionSet
from lamforge.core.calls import format_action
from lamforge.core.schemas import Action, Status, TaskPlan, Trajectory

IGNORE = -100


def _render(tokenizer, messages: list[dict]) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False)


def conversation_row(tokenizer, messages: list[dict], unlabeled: frozenset[int] = frozenset()) -> dict:
    """Tokenize a whole conversation; labels on each assistant message's content and its end token,
    except the assistant messages whose order (0 = the first reply) is in ``unlabeled``."""
    text = _render(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    end_marker = _end_marker(tokenizer)
    spans_chars, cursor, reply = [], 0, -1
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        reply += 1
        # search from where this reply starts: the same text may occur earlier (NO_CALL in the
        # system prompt, an action repeated in the history) and must not be labelled there
        opening = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        if text.startswith(opening):
            cursor = max(cursor, len(opening))
        start = text.index(m["content"], cursor)
        stop = start + len(m["content"])
        if text.startswith(end_marker, stop):
            stop += len(end_marker)  # the model must learn to stop after its action
        cursor = stop
        if reply not in unlabeled:
            spans_chars.append((start, stop))
    labels = [IGNORE] * len(ids)
    token_spans = []
    for a, b in spans_chars:
        inside = [i for i, (s, e) in enumerate(offsets) if s >= a and e <= b and e > s]
        for i in inside:
            labels[i] = ids[i]
        if inside:
            token_spans.append((inside[0], inside[-1] + 1))
    return {"input_ids": ids, "labels": labels, "action_spans": token_spans}


def _end_marker(tokenizer) -> str:
    """The text a chat template puts right after an assistant message (ChatML: '<|im_end|>')."""
    probe = _render(tokenizer, [{"role": "user", "content": "x"}, {"role": "assistant", "content": "PROBE"}])
    after = probe.split("PROBE", 1)[1]
    return after.rstrip("\n") if after.strip() else ""


def plan_row(tokenizer, env_id: str, pair: TaskPlan) -> dict:
    messages = plan_messages(env_id, pair.task) + [{"role": "assistant", "content": render_plan(pair.plan)}]
    return conversation_row(tokenizer, messages)


def trajectory_row(tokenizer, traj: Trajectory, action_set: ActionSet, check_finish: bool = False) -> dict:
    """The episode as one row. With ``check_finish`` (and a recorded final screen) the last action is
    followed by the screen it produced and a bare ``FINISH``: the model learns to recognise a finished
    task. Without it, a model that left off FINISH on the last action saw an untrained screen next
    and repeated the action, which undoes a toggle (Bullets, Strikethrough: the largest failure on
    the validation split in session 7), and one that put FINISH on an action that only opened a
    drop-down or a dialog never saw that the task was not done. Both ways of ending are right; the
    recipe's ``data.check_finish`` is the share of rows that end this way."""
    steps, screen, plan, tail = traj.steps, None, traj.initial_plan, []
    if (check_finish and traj.final_observation is not None and steps
            and steps[-1].action.status == Status.FINISH and steps[-1].action.function is not None):
        last = steps[-1].model_copy(update={"action": steps[-1].action.model_copy(update={"status": Status.CONTINUE})})
        steps, screen, plan = [*steps[:-1], last], traj.final_observation, last.plan
        tail = [{"role": "assistant", "content": format_action(Action(status=Status.FINISH), action_set)}]
    messages = episode_messages(traj.task.env_id, action_set, traj.task.request, steps, screen, plan,
                                recalled=traj.meta.get("recalled"))
    # a detour's deliberate mistake (DetourExpert) is context, not a target: only its repair is learnt
    mistake = traj.meta.get("detour_step")
    return conversation_row(tokenizer, messages + tail, frozenset() if mistake is None else frozenset({mistake}))


def count_target_tokens(rows: list[dict]) -> tuple[int, int]:
    """(all tokens, loss tokens) of a set of rows."""
    return (sum(len(r["input_ids"]) for r in rows),
            sum(sum(1 for x in r["labels"] if x != IGNORE) for r in rows))
