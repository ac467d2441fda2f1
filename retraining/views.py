from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from retraining.models import RetrainingRun


@staff_member_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(RetrainingRun, pk=pk)
    return render(request, "retraining/run_detail.html", {"run": run})
