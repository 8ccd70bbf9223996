from celery import shared_task

from . import services


@shared_task(acks_late=True)
def run_export_task(export_id):
    return services.run_export(export_id=export_id)
