"""The console's words in English and Chinese: one small catalog, a translator per request.

The language is the ``risk_console_lang`` cookie (``en`` or ``zh``), else the browser's
``Accept-Language``. A key missing in Chinese falls back to English, and a missing key shows itself, so a
gap is visible rather than blank. Codes the engine emits (outcomes, statuses, binding constraints, alert
kinds) are translated through ``code(group, value)`` and fall back to the raw code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LANGUAGES = ("en", "zh")
LANG_COOKIE = "risk_console_lang"

CATALOG: dict[str, tuple[str, str]] = {
    # frame
    "app.title": ("Risk console", "风控台"),
    "app.skip": ("Skip to content", "跳到正文"),
    "nav.reviews": ("Review queue", "审核队列"),
    "nav.portfolio": ("Portfolio", "资产组合"),
    "nav.model": ("Model", "模型"),
    "nav.audit": ("Audit", "审计"),
    "nav.dealer_search": ("Dealer id", "经销商编号"),
    "nav.open": ("Open", "打开"),
    "nav.signed_in_as": ("Signed in as {name} ({role})", "当前用户：{name}（{role}）"),
    "nav.logout": ("Log out", "退出登录"),
    "nav.language": ("Language", "语言"),
    "lang.en": ("English", "English"),
    "lang.zh": ("中文", "中文"),
    "role.risk_officer": ("risk officer", "风控专员"),
    "role.admin": ("admin", "管理员"),
    # login
    "login.title": ("Log in", "登录"),
    "login.intro": (
        "Risk officers and admins log in with their API key. The key is checked once; the "
        "browser then keeps only a session cookie that ends when you log out.",
        "风控专员和管理员使用 API 密钥登录。密钥只校验一次，之后浏览器只保留会话 Cookie，退出即失效。",
    ),
    "login.key": ("API key", "API 密钥"),
    "login.key_hint": (
        "Starts with rk_. `make run` prints the demo keys.",
        "以 rk_ 开头。`make run` 会打印演示密钥。",
    ),
    "login.submit": ("Log in", "登录"),
    "login.refused": ("That key is unknown or revoked.", "密钥无效或已被吊销。"),
    "login.role_refused": (
        "Only risk-officer and admin keys can use the console.",
        "只有风控专员和管理员的密钥可以登录风控台。",
    ),
    "login.logged_out": ("You are logged out.", "您已退出登录。"),
    "login.expired": ("Your session has ended; please log in again.", "会话已结束，请重新登录。"),
    "csrf.failed": (
        "The form was out of date (or not sent from this console). Please try again.",
        "表单已过期（或不是从本控制台提交的），请重试。",
    ),
    # common
    "common.none": ("None", "无"),
    "common.yes": ("yes", "是"),
    "common.no": ("no", "否"),
    "common.filter": ("Filter", "筛选"),
    "common.all": ("All", "全部"),
    "common.back": ("Back", "返回"),
    "common.not_found": ("Not found", "未找到"),
    "common.error": ("Something went wrong", "出错了"),
    "error.forbidden": ("Not allowed", "无权操作"),
    "error.conflict": ("That cannot be done now", "当前无法执行"),
    "error.invalid": ("Please check the form", "请检查填写内容"),
    "common.data_pending": ("No data yet.", "暂无数据。"),
    "common.when": ("When", "时间"),
    "common.actor": ("Who", "操作人"),
    "common.action": ("Action", "动作"),
    "common.details": ("Details", "详情"),
    "common.amount": ("Amount", "金额"),
    "common.status": ("Status", "状态"),
    "common.bank": ("Bank", "银行"),
    "common.dealer": ("Dealer", "经销商"),
    "common.grade": ("Grade", "等级"),
    "common.count": ("Count", "数量"),
    "common.total": ("Total", "合计"),
    "common.cny": ("CNY", "元"),
    "common.render_time": ("Rendered in {ms} ms", "页面生成耗时 {ms} 毫秒"),
    "common.show_table": ("The figures as a table", "以表格查看数据"),
    # review queue
    "reviews.title": ("Review queue", "审核队列"),
    "reviews.intro": (
        "Referred decisions waiting for an officer. Assign a case to yourself, open its "
        "decision, and resolve it with a reason.",
        "等待审核的转人工决策。将案件分配给自己，查看决策详情，并填写理由后处理。",
    ),
    "reviews.status": ("Status", "状态"),
    "reviews.active": ("Not yet resolved", "未处理完"),
    "reviews.bank": ("Bank", "银行"),
    "reviews.assignee": ("Assignee", "处理人"),
    "reviews.assignee_me": ("Assigned to me", "分配给我"),
    "reviews.assignee_any": ("Anyone", "任何人"),
    "reviews.sort": ("Sort by", "排序"),
    "reviews.sort.opened_at": ("Oldest first", "最早的在前"),
    "reviews.sort.-opened_at": ("Newest first", "最新的在前"),
    "reviews.sort.-proposed_limit": ("Largest limit first", "额度从大到小"),
    "reviews.sort.proposed_limit": ("Smallest limit first", "额度从小到大"),
    "reviews.opened": ("Opened", "提交时间"),
    "reviews.proposed_limit": ("Proposed limit (CNY)", "建议额度（元）"),
    "reviews.case": ("Case", "案件"),
    "reviews.decision": ("Decision", "决策"),
    "reviews.assign_to_me": ("Assign to me", "分配给我"),
    "reviews.empty": ("No cases match.", "没有符合条件的案件。"),
    "reviews.count": ("{n} cases", "{n} 个案件"),
    "reviews.unassigned": ("unassigned", "未分配"),
    "status.open": ("open", "待处理"),
    "status.assigned": ("assigned", "已分配"),
    "status.awaiting_second_approval": ("awaiting second approval", "待复核"),
    "status.resolved": ("resolved", "已处理"),
    # decision page
    "decision.title": ("Decision {id}", "决策 {id}"),
    "decision.outcome": ("Outcome", "结果"),
    "decision.kind": ("Kind", "类型"),
    "decision.grade": ("Grade", "等级"),
    "decision.model_grade": ("model grade {grade}", "模型等级 {grade}"),
    "decision.pd": ("PD", "违约概率"),
    "decision.score": ("Score", "评分"),
    "decision.limit": ("Limit (CNY)", "额度（元）"),
    "decision.requested": ("Requested (CNY)", "申请金额（元）"),
    "decision.binding": ("Bound by", "约束条件"),
    "decision.limit_candidates": ("Limit candidates", "额度候选值"),
    "decision.candidate": ("Constraint", "约束"),
    "decision.candidate_value": ("Limit it allows (CNY)", "允许的额度（元）"),
    "decision.reasons": ("Reason codes", "原因代码"),
    "decision.rules": ("Rules", "规则"),
    "decision.rule": ("Rule", "规则"),
    "decision.rule_effect": ("Effect", "效果"),
    "decision.rule_fired": ("Fired", "触发"),
    "decision.rules_fired": ("Rules fired", "触发的规则"),
    "decision.no_rules_fired": ("No rule fired.", "没有触发任何规则。"),
    "decision.versions": ("Model and rule set", "模型与规则集"),
    "decision.model_version": ("Model version", "模型版本"),
    "decision.ruleset_version": ("Rule-set version", "规则集版本"),
    "decision.decided": ("Decided", "决策时间"),
    "decision.decided_by": ("Asked by", "请求方"),
    "decision.dealer": ("Dealer", "经销商"),
    "decision.bank": ("Bank", "银行"),
    "decision.audit_seq": ("Audit entry", "审计记录"),
    "decision.document_sha256": ("Document SHA-256", "决策文档 SHA-256"),
    "decision.explanation": ("Why: the model's explanation", "原因：模型解释"),
    "decision.waterfall_intro": (
        "SHAP contributions in log-odds: each bar is one input's push from the "
        "model's base value towards this applicant's value. Red raises the risk, "
        "green lowers it.",
        "SHAP 贡献（对数几率）：每根柱表示一个输入把模型基准值推向该申请人取值的幅度。"
        "红色提高风险，绿色降低风险。",
    ),
    "decision.no_explanation": (
        "This decision has no model explanation (it was decided before scoring).",
        "该决策没有模型解释（在评分前即已作出）。",
    ),
    "decision.additivity_warning": (
        "The contributions do not add up to the recorded margin (difference {diff}).",
        "各项贡献之和与记录的模型输出不一致（差 {diff}）。",
    ),
    "decision.feature": ("Input", "输入"),
    "decision.value": ("Value", "取值"),
    "decision.contribution": ("Contribution", "贡献"),
    "decision.review": ("Review", "审核"),
    "decision.history": ("Audit trail of this case", "本案件审计记录"),
    "waterfall.title": (
        "How the model got from its base value to this applicant",
        "模型从基准值到该申请人的推导",
    ),
    "waterfall.base": ("Base value E[f(x)]", "基准值 E[f(x)]"),
    "waterfall.final": ("Final value f(x)", "最终值 f(x)"),
    "waterfall.others": ("{n} other inputs", "其他 {n} 项输入"),
    "waterfall.axis": ("log-odds of default", "违约对数几率"),
    "waterfall.pd": ("PD {pd}", "违约概率 {pd}"),
    "waterfall.calibrated_pd": ("calibrated PD {pd}", "校准后违约概率 {pd}"),
    "waterfall.raises": ("raises the risk", "提高风险"),
    "waterfall.lowers": ("lowers the risk", "降低风险"),
    "outcome.approve": ("approve", "批准"),
    "outcome.refer": ("refer", "转人工"),
    "outcome.decline": ("decline", "拒绝"),
    "kind.credit_limit": ("credit limit", "授信额度"),
    "kind.order_loan": ("order loan", "订单贷"),
    "binding.capacity": ("purchase capacity", "采购能力"),
    "binding.grade_cap": ("the grade's cap", "等级上限"),
    "binding.grade_eligibility": ("grade not eligible", "等级不符合准入"),
    "binding.product_cap": ("the bank product's cap", "银行产品上限"),
    "binding.bank_quota": ("the bank's remaining quota", "银行剩余额度"),
    "binding.requested": ("the amount requested", "申请金额"),
    "binding.guarantee_backed": ("what the guarantee backs", "担保覆盖额度"),
    "binding.guarantor_capacity": ("the guarantor's regulatory capacity", "担保机构监管容量"),
    "binding.overlay_cap": ("a rule's cap", "规则上限"),
    "binding.overlay_fraction": ("a rule's reduction", "规则折减"),
    "rule_kind.knock_out": ("knock-out (decline)", "否决（拒绝）"),
    "rule_kind.refer": ("refer to an officer", "转人工审核"),
    "rule_kind.overlay": ("overlay (notch or cap)", "调整（降级或限额）"),
    # resolution
    "resolve.title": ("Resolve", "处理"),
    "resolve.intro": (
        "Approve the proposed limit, adjust it, or decline — always with a reason. An "
        "override above CNY {threshold} that raises the line waits for a second officer.",
        "批准建议额度、调整额度或拒绝，均须填写理由。超过 {threshold} 元并提高额度的调整需要另一名专员复核。",
    ),
    "resolve.resolution": ("Resolution", "处理结果"),
    "resolution.approve": ("approve", "批准"),
    "resolution.adjust": ("adjust the limit", "调整额度"),
    "resolution.decline": ("decline", "拒绝"),
    "resolve.limit": ("Limit to grant (CNY, for adjust)", "授予额度（元，调整时填写）"),
    "resolve.reason": ("Reason", "理由"),
    "resolve.reason_hint": ("Required. Recorded in the audit trail.", "必填，记入审计记录。"),
    "resolve.submit": ("Resolve", "提交处理"),
    "resolve.done": ("The case is resolved.", "案件已处理。"),
    "resolve.pending": (
        "The override waits for a second officer's approval.",
        "该调整正在等待另一名专员复核。",
    ),
    "resolve.assigned": ("The case is assigned to you.", "案件已分配给您。"),
    "resolve.limit_invalid": (
        "Give the limit as an amount such as 250000.00.",
        "请以金额格式填写额度，例如 250000.00。",
    ),
    "second.title": ("Second approval", "复核"),
    "second.intro": (
        "{maker} proposed to {resolution} with a limit of CNY {limit}: “{reason}”.",
        "{maker} 提议{resolution}，额度 {limit} 元：“{reason}”。",
    ),
    "second.own": (
        "You proposed this override; another officer must approve it.",
        "此调整由您提出，须由另一名专员复核。",
    ),
    "second.decision": ("Your decision", "您的意见"),
    "second.approve": ("approve the override", "同意调整"),
    "second.reject": ("send it back to the maker", "退回提议人"),
    "second.submit": ("Submit", "提交"),
    "second.approved": ("The override is approved and in force.", "调整已复核通过并生效。"),
    "second.rejected": ("The override went back to the maker.", "调整已退回提议人。"),
    "review.resolved_summary": (
        "Resolved: {resolution}, limit CNY {limit}, by {maker}{checker}. Reason: {reason}",
        "已处理：{resolution}，额度 {limit} 元，处理人 {maker}{checker}。理由：{reason}",
    ),
    "review.checker": (", approved by {checker}", "，复核人 {checker}"),
    # dealer page
    "dealer.title": ("Dealer {name}", "经销商 {name}"),
    "dealer.credit_code": ("Unified social credit code", "统一社会信用代码"),
    "dealer.region": ("Region", "地区"),
    "dealer.onboarded": ("Onboarded", "入驻时间"),
    "dealer.guarantor": ("Guarantor", "担保机构"),
    "dealer.purchases": ("Monthly purchases (CNY)", "月度采购额（元）"),
    "dealer.delays": ("Payment delays (average days late per month)", "付款延迟（每月平均逾期天数）"),
    "dealer.days_late": ("days late", "逾期天数"),
    "dealer.avg_days_late": ("average days late", "平均逾期天数"),
    "dealer.max_days_late": ("longest delay", "最长逾期天数"),
    "dealer.month": ("Month", "月份"),
    "dealer.industry": ("Industry", "行业"),
    "dealer.search_title": ("Find a dealer", "查找经销商"),
    "dealer.search_hint": (
        "Give a dealer id, a unified social credit code, the platform's id, or part of a name.",
        "输入经销商编号、统一社会信用代码、平台编号或名称的一部分。",
    ),
    "dealer.no_match": ("No dealer matches “{q}”.", "没有与“{q}”匹配的经销商。"),
    "dealer.movement": ("Change", "变动"),
    "dealer.limit_before": ("Limit before", "变动前额度"),
    "dealer.limit_after": ("Limit after", "变动后额度"),
    "dealer.cause": ("Cause", "原因"),
    "movement.open": ("opened", "开立"),
    "movement.adjust": ("limit adjusted", "调整额度"),
    "movement.renew": ("renewed", "续期"),
    "movement.freeze": ("frozen", "冻结"),
    "movement.unfreeze": ("unfrozen", "解冻"),
    "movement.close": ("closed", "关闭"),
    "movement.reopen": ("reopened", "重新开立"),
    "line.active": ("active", "正常"),
    "line.frozen": ("frozen", "冻结"),
    "line.closed": ("closed", "已关闭"),
    "dealer.history": ("Grade and limit history", "等级与额度历史"),
    "dealer.lines": ("Credit lines", "授信额度"),
    "dealer.limit": ("Limit", "额度"),
    "dealer.reserved": ("Reserved", "已占用"),
    "dealer.utilised": ("Utilised", "已使用"),
    "dealer.available": ("Available", "可用"),
    "dealer.expires": ("Expires", "到期日"),
    "dealer.loans": ("Order loans", "订单贷"),
    "dealer.loan": ("Loan", "贷款"),
    "dealer.principal": ("Principal (CNY)", "本金（元）"),
    "dealer.outstanding": ("Outstanding (CNY)", "未还（元）"),
    "dealer.dpd": ("DPD", "逾期天数"),
    "dealer.fund_trace": ("Fund-usage trace", "资金用途追踪"),
    "dealer.alerts": ("Alerts", "预警"),
    "dealer.decisions": ("Decisions", "决策"),
    "dealer.not_found": ("No dealer {id}.", "没有经销商 {id}。"),
    # alerts
    "nav.alerts": ("Alerts", "预警"),
    "alerts.title": ("Alerts", "预警"),
    "alerts.kind": ("Kind", "类型"),
    "alerts.severity": ("Severity", "严重程度"),
    "alerts.source": ("Source", "来源"),
    "alerts.raised": ("Raised", "触发时间"),
    "alerts.message": ("Finding", "发现"),
    "alerts.evidence": ("Evidence", "证据"),
    "alerts.resolve": ("Resolve", "处理"),
    "alerts.unfreeze": ("Unfreeze the credit lines this alert froze", "解冻此预警冻结的授信额度"),
    "alerts.none": ("No alerts match.", "没有符合条件的预警。"),
    "alert.resolved": ("The alert is resolved.", "预警已处理。"),
    "alert_status.open": ("open", "未处理"),
    "alert_status.resolved": ("resolved", "已处理"),
    "severity.info": ("info", "提示"),
    "severity.warning": ("warning", "警告"),
    "severity.critical": ("critical", "严重"),
    "source.fund_usage": ("fund usage", "资金用途"),
    "source.early_warning": ("early warning", "早期预警"),
    "source.delinquency": ("delinquency", "逾期"),
    "alert_resolution.confirmed": ("confirmed", "确认属实"),
    "alert_resolution.false_positive": ("false positive", "误报"),
    "alert_resolution.remediated": ("remediated", "已整改"),
    "alert_resolution.accepted_risk": ("risk accepted", "接受风险"),
    "loan.state": ("State", "状态"),
    "loan.tenor": ("Tenor (days)", "期限（天）"),
    "loan.due": ("Due", "到期日"),
    "loan.trace_empty": ("No money has moved yet.", "尚无资金流动。"),
    "loan.flow": ("Flow", "流向"),
    "flow.disbursement": ("bank paid the supplier", "银行受托支付给供应商"),
    "flow.supplier_receipt": ("supplier received", "供应商收款"),
    "flow.delivery": ("goods delivered", "货物交付"),
    "flow.invoice": ("invoice issued", "发票开具"),
    "flow.return": ("goods returned", "退货"),
    "flow.refund": ("funds came back", "资金退回"),
    "flow.transfer": ("transfer onwards", "资金转出"),
    "portfolio.buckets_chart": ("Outstanding principal by days past due", "按逾期天数的未还本金"),
    "portfolio.alerts_chart": ("Open alerts by kind", "按类型的未处理预警"),
    "portfolio.bucket": ("Days past due", "逾期天数"),
    # portfolio
    "portfolio.title": ("Portfolio", "资产组合"),
    "portfolio.by_grade": ("Exposure by grade", "按等级的敞口"),
    "portfolio.by_bank": ("Exposure by bank", "按银行的敞口"),
    "portfolio.by_guarantor": ("Exposure by guarantor", "按担保机构的敞口"),
    "portfolio.delinquency": ("Delinquency buckets", "逾期分布"),
    "portfolio.alerts": ("Open alerts by type", "按类型的未处理预警"),
    "portfolio.exposure": ("Exposure (CNY)", "敞口（元）"),
    "portfolio.limit": ("Limits (CNY)", "额度（元）"),
    "portfolio.lines": ("Lines", "额度数"),
    "portfolio.loans": ("Loans", "贷款笔数"),
    "portfolio.outstanding": ("Outstanding (CNY)", "未还（元）"),
    "portfolio.no_guarantor": ("no guarantor", "无担保"),
    # model
    "model.title": ("Model", "模型"),
    "model.champion": ("Champion model", "冠军模型"),
    "model.metrics": ("Validation metrics", "验证指标"),
    "model.calibration": ("Calibration by grade", "按等级的校准"),
    "model.predicted": ("Predicted PD", "预测违约概率"),
    "model.observed": ("Observed default rate", "实际违约率"),
    "model.psi": ("Population stability (PSI)", "群体稳定性指数（PSI）"),
    "model.latest": ("Latest model (none is champion)", "最新模型（尚无冠军模型）"),
    "model.challenger": ("Challenger (scores in shadow)", "挑战者模型（影子评分）"),
    "model.content_hash": ("Artifact content hash", "模型文件内容哈希"),
    "model.promoted": ("Promoted", "发布时间"),
    "model.created": ("Trained", "训练时间"),
    "model.calibration_method": ("Calibration", "校准方法"),
    "model.versions": ("Versions", "版本"),
    "model.defaults": ("Defaults", "违约数"),
    "model.sample.out_of_time": ("Out of time", "跨时间验证"),
    "model.sample.training": ("Training", "训练集"),
    "model.psi_bands": (
        "PSI below 0.10: no significant change; 0.10–0.25: investigate; 0.25 or more: a significant shift.",
        "PSI 低于 0.10：无显著变化；0.10–0.25：需关注；0.25 及以上：显著变化。",
    ),
    "model.psi_score": ("Score PSI, training → out of time", "评分 PSI（训练集 → 跨时间验证）"),
    "model.psi_live": ("Score PSI of the last {n} live decisions", "最近 {n} 笔线上决策的评分 PSI"),
    "model.psi_live_pending": ("Not enough live decisions yet (30 needed).", "线上决策不足（需要 30 笔）。"),
    "model.psi_features": (
        "Feature PSI, training → out of time (largest first)",
        "特征 PSI（训练集 → 跨时间验证，从大到小）",
    ),
    "psi.stable": ("stable", "稳定"),
    "psi.investigate": ("investigate", "需关注"),
    "psi.significant": ("significant shift", "显著变化"),
    "psi.none": ("—", "—"),
    "metric.auc": ("AUC", "AUC"),
    "metric.gini": ("Gini", "基尼系数"),
    "metric.ks": ("KS", "KS"),
    "metric.brier": ("Brier", "Brier 分数"),
    "metric.rows": ("Rows", "样本数"),
    "metric.default_rate": ("Default rate", "违约率"),
    "model_status.champion": ("champion", "冠军"),
    "model_status.challenger": ("challenger", "挑战者"),
    "model_status.candidate": ("candidate", "候选"),
    "model_status.retired": ("retired", "已退役"),
    "model.none": ("No model has been trained and promoted yet.", "尚未训练并发布模型。"),
    # audit
    "audit.title": ("Audit trail", "审计记录"),
    "audit.verification": ("Verification", "校验"),
    "audit.intact": (
        "Intact: {entries} entries, hash chain and Merkle tree recomputed, {checkpoints} signed "
        "checkpoints verified.",
        "完整：共 {entries} 条记录，已重新计算哈希链和 Merkle 树，{checkpoints} 个签名检查点校验通过。",
    ),
    "audit.broken": ("BROKEN: {problem}", "已损坏：{problem}"),
    "audit.key_revoked": ("key revoked: not trusted", "密钥已吊销：不可信"),
    "audit.untrusted": (
        "Not trusted: checkpoint {sizes} was signed with a signing key since revoked (compromised), so it "
        "vouches for nothing; this is not tampering. The entries are checked by the chain and the other "
        "checkpoints.",
        "不可信：检查点 {sizes} 由已吊销（已泄露）的签名密钥签发，不能作为证明；这不是篡改。"
        "记录仍由哈希链和其他检查点校验。",
    ),
    "audit.verified_at": ("Verified {when} in {ms} ms.", "校验于 {when}，耗时 {ms} 毫秒。"),
    "audit.verify_now": ("Verify again now", "立即重新校验"),
    "audit.checkpoint": ("Latest signed checkpoint", "最新签名检查点"),
    "audit.no_checkpoint": ("No checkpoint has been signed yet.", "尚未签署检查点。"),
    "audit.tree_size": ("Tree size", "树大小"),
    "audit.root_hash": ("Root hash", "根哈希"),
    "audit.issued_at": ("Signed at", "签署时间"),
    "audit.kid": ("Key id", "密钥编号"),
    "audit.jws": ("Compact JWS", "紧凑 JWS"),
    "audit.sign_now": ("Sign a checkpoint now", "立即签署检查点"),
    "audit.signed": ("A checkpoint is signed over every entry so far.", "已对目前全部记录签署检查点。"),
    "audit.verifying": ("A new verification of the whole trail has started.", "已开始重新校验全部审计记录。"),
    "audit.first_run": (
        "Verifying the whole trail for the first time; this takes a few seconds. Reload "
        "the page to see the result.",
        "正在首次校验全部审计记录，需要几秒钟。请刷新页面查看结果。",
    ),
    "audit.rerunning": ("A new verification is running.", "新的校验正在进行。"),
    "audit.run_failed": ("The verification could not run: {error}", "校验未能运行：{error}"),
    "audit.admin_only": ("Only an admin may sign a checkpoint.", "只有管理员可以签署检查点。"),
    "audit.recent": ("Recent entries", "最近记录"),
    "audit.subject": ("Subject", "对象"),
    "audit.seq": ("Seq", "序号"),
    "audit.filter_subject": ("Subject id", "对象编号"),
    "audit.hash": ("Entry hash", "记录哈希"),
    "audit.older": ("Older entries", "更早的记录"),
}


def code_key(group: str, value: Any) -> str:
    return f"{group}.{value}"


@dataclass(frozen=True)
class Translator:
    lang: str

    def __call__(self, key: str, **values: Any) -> str:
        en, zh = CATALOG.get(key, (key, key))
        text = zh if self.lang == "zh" and zh else en
        return text.format(**values) if values else text

    def code(self, group: str, value: Any) -> str:
        """An engine code in words (``outcome``, ``status``...); the raw code when the catalog has none."""
        if value is None:
            return "—"
        key = code_key(group, value)
        return self(key) if key in CATALOG else str(value)

    def pick(self, en: str | None, zh: str | None) -> str:
        """Pick the right one of a bilingual pair the engine stores (feature labels, reason texts)."""
        if self.lang == "zh":
            return zh or en or ""
        return en or zh or ""


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"
