"""nianbao: read 政府信息公开工作年度报告, extract every number, prove which ones contradict each other."""

__version__ = "0.1.0"
