"""ACL policies, ACL tokens (secrets stored only as keyed hashes) and the ACL state row."""

import uuid

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='ACLPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=128, unique=True, validators=[django.core.validators.RegexValidator('\\A[a-zA-Z0-9-]{1,128}\\Z', 'use 1 to 128 letters, digits and -')])),
                ('description', models.CharField(blank=True, default='', max_length=256)),
                ('rules', models.TextField(help_text="Rules in Nomad's ACL policy language (HCL or JSON).")),
                ('create_index', models.BigIntegerField(default=0, editable=False)),
                ('modify_index', models.BigIntegerField(default=0, editable=False)),
                ('created', models.DateTimeField(editable=False)),
                ('modified', models.DateTimeField(editable=False)),
            ],
            options={
                'verbose_name': 'ACL policy',
                'verbose_name_plural': 'ACL policies',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='ACLState',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, editable=False, primary_key=True, serialize=False)),
                ('index', models.BigIntegerField(default=0)),
                ('bootstrap_index', models.BigIntegerField(blank=True, null=True)),
                ('bootstrapped_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'verbose_name': 'ACL state',
                'verbose_name_plural': 'ACL state',
            },
        ),
        migrations.CreateModel(
            name='ACLToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('accessor_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name='accessor ID')),
                ('secret_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('name', models.CharField(blank=True, default='', max_length=256)),
                ('type', models.CharField(choices=[('client', 'client'), ('management', 'management')], default='client', max_length=16)),
                ('policies', models.JSONField(blank=True, default=list)),
                ('is_global', models.BooleanField(default=False, verbose_name='global')),
                ('region', models.CharField(default='global', max_length=128)),
                ('create_time', models.DateTimeField(editable=False)),
                ('expiration_time', models.DateTimeField(blank=True, db_index=True, null=True)),
                ('expiration_ttl', models.DurationField(blank=True, null=True, verbose_name='expiration TTL')),
                ('create_index', models.BigIntegerField(default=0, editable=False)),
                ('modify_index', models.BigIntegerField(default=0, editable=False)),
            ],
            options={
                'verbose_name': 'ACL token',
                'verbose_name_plural': 'ACL tokens',
                'ordering': ['create_index'],
            },
        ),
    ]
